//! A test run as OPA-style text and as JUnit XML.

use super::TestRun;
use std::fmt::Write as _;
use windtunnel_core::xml_escape;

impl TestRun {
    /// One line per test (`PASS: file: test`, `FAIL: file: test: why`), a
    /// blank line, then `N passed, M failed`.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            match (&r.message, r.passed) {
                (_, true) => {
                    let _ = writeln!(out, "PASS: {}: {}", r.file, r.name);
                }
                (Some(m), false) => {
                    let _ = writeln!(out, "FAIL: {}: {}: {}", r.file, r.name, one_line(m));
                }
                (None, false) => {
                    let _ = writeln!(out, "FAIL: {}: {}", r.file, r.name);
                }
            }
        }
        if !self.results.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "{} passed, {} failed", self.passed(), self.failed());
        out
    }

    /// JUnit XML: one `<testsuite>` per file, one `<testcase>` per test
    /// (`classname` is the file), a `<failure message>` for each failure.
    pub fn render_junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"windtunnel policy test\" tests=\"{}\" failures=\"{}\">",
            self.results.len(),
            self.failed()
        );
        let mut files: Vec<&str> = Vec::new();
        for r in &self.results {
            if !files.contains(&r.file.as_str()) {
                files.push(&r.file);
            }
        }
        for file in files {
            let tests: Vec<_> = self.results.iter().filter(|r| r.file == file).collect();
            let failures = tests.iter().filter(|r| !r.passed).count();
            let f = xml_escape(file);
            let _ = writeln!(out, "  <testsuite name=\"{f}\" tests=\"{}\" failures=\"{failures}\">", tests.len());
            for t in tests {
                let n = xml_escape(&t.name);
                if t.passed {
                    let _ = writeln!(out, "    <testcase name=\"{n}\" classname=\"{f}\"/>");
                } else {
                    let m = xml_escape(t.message.as_deref().unwrap_or("failed"));
                    let _ = writeln!(out, "    <testcase name=\"{n}\" classname=\"{f}\">");
                    let _ = writeln!(out, "      <failure message=\"{m}\">{m}</failure>");
                    let _ = writeln!(out, "    </testcase>");
                }
            }
            let _ = writeln!(out, "  </testsuite>");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// A message on one line (rhai's can span several).
fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}
