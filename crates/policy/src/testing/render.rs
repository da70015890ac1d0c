//! A test run as OPA-style text and as JUnit XML.

use super::TestRun;
use std::fmt::Write as _;
use windtunnel_core::{JunitCase, JunitFailure, JunitSuite, junit_xml};

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

    /// JUnit XML (core's one writer): one `<testsuite>` per file, one
    /// `<testcase>` per test (`classname` is the file), a `<failure message>`
    /// for each failure.
    pub fn render_junit(&self) -> String {
        let mut suites: Vec<JunitSuite> = Vec::new();
        for r in &self.results {
            if !suites.iter().any(|s| s.name == r.file) {
                suites.push(JunitSuite { name: r.file.clone(), scenario: r.file.clone(), ..JunitSuite::default() });
            }
            let Some(suite) = suites.iter_mut().find(|s| s.name == r.file) else { continue };
            let failure = (!r.passed).then(|| JunitFailure {
                message: r.message.clone().unwrap_or_else(|| "failed".to_string()),
                details: Vec::new(),
            });
            suite.cases.push(JunitCase { name: r.name.clone(), failure });
        }
        junit_xml("windtunnel policy test", &suites)
    }
}

/// A message on one line (rhai's can span several).
fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}
