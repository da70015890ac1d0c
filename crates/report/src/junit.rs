//! `junit.xml`: assertions as JUnit test cases, the format every CI system
//! (GitHub via test reporters, GitLab, Jenkins, Buildkite) can show.
//!
//! One `<testsuite>` per report, named `<scenario> [seed N]` so the runs of
//! `check --seeds N` stay apart; one `<testcase>` per assertion with
//! `classname` = scenario and `name` = the assertion's name; a failed
//! assertion carries `<failure message="actual X, limit Y">`, and a failed
//! invariant lists its first examples in the failure's text. Time is `0`:
//! a virtual-time run has no wall time worth reporting, and the file must be
//! the same bytes on every run.

use crate::Report;
use crate::escape::xml;
use std::fmt::Write;

/// Renders reports (one per scenario and seed) as one JUnit XML document.
pub fn to_junit(reports: &[&Report]) -> String {
    let tests: usize = reports.iter().map(|r| r.assertions.len()).sum();
    let failures: usize = reports.iter().map(|r| r.failed_assertions().count()).sum();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"windtunnel\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"0\">"
    );
    for r in reports {
        let scenario = xml(&r.scenario);
        let _ = writeln!(
            s,
            "  <testsuite name=\"{scenario} [seed {}]\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" \
             time=\"0\">",
            r.seed,
            r.assertions.len(),
            r.failed_assertions().count()
        );
        let _ = writeln!(
            s,
            "    <properties>\n      <property name=\"scenario\" value=\"{scenario}\"/>\n      \
             <property name=\"policy\" value=\"{}\"/>\n      <property name=\"seed\" value=\"{}\"/>\n    \
             </properties>",
            xml(&r.policy),
            r.seed
        );
        for a in &r.assertions {
            let _ = write!(s, "    <testcase classname=\"{scenario}\" name=\"{}\" time=\"0\"", xml(&a.name));
            if a.passed {
                s.push_str("/>\n");
                continue;
            }
            let message = xml(&a.message());
            let _ = write!(s, ">\n      <failure message=\"{message}\" type=\"assertion\">{message}");
            if let Some(inv) = a.invariant_name().and_then(|n| r.invariant(n)) {
                for e in &inv.examples {
                    let on = e.endpoint.as_deref().map(|n| format!(" on {n}")).unwrap_or_default();
                    let line = format!("\nrequest {} at {} ms{on}: {}", e.request, e.at_ms, e.detail);
                    s.push_str(&xml(&line));
                }
            }
            s.push_str("</failure>\n    </testcase>\n");
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}
