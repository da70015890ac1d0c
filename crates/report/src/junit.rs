//! `junit.xml`: assertions as JUnit test cases, the format every CI system
//! (GitHub via test reporters, GitLab, Jenkins, Buildkite) can show.
//!
//! `run`: one `<testsuite>` per report, named `<scenario> [seed N]`, one
//! `<testcase>` per assertion with `classname` = scenario and `name` = the
//! assertion's name. `check` builds its own [`JunitSuite`]s: one per
//! scenario with one case per assertion line it prints (each assertion over
//! all seeds, and the baseline comparisons). A failed case carries
//! `<failure message="actual X, limit Y">`, and a failed invariant lists its
//! first examples in the failure's text. Names, messages and example lines
//! are user text on one line each: their control characters are written as
//! escapes (see [`crate::plain_line`]), so none can add a line to a log that
//! prints them. Time is `0`:
//! a virtual-time run has no wall time worth reporting, and the file must be
//! the same bytes on every run.

use crate::Report;
use crate::escape::{plain_line, xml};
use crate::schema::Assertion;
use std::fmt::Write;

/// One `<testsuite>`: the checks of one scenario (one run, or one scenario
/// over seeds in `check`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JunitSuite {
    /// The suite's name (`quickstart [seed 42]`).
    pub name: String,
    /// The scenario: every case's `classname`.
    pub scenario: String,
    /// `<property>` elements, in order.
    pub properties: Vec<(String, String)>,
    /// The test cases, in order.
    pub cases: Vec<JunitCase>,
}

/// One `<testcase>`.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitCase {
    /// The check's name (`max_cost_usd`, `invariant:deadline`, `baseline:p95_ms`).
    pub name: String,
    /// Why it failed; `None` when it passed.
    pub failure: Option<JunitFailure>,
}

/// A failed case's `<failure>`.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitFailure {
    /// The one-line message (`actual 1.59, limit 1.0`).
    pub message: String,
    /// Lines after the message in the failure's text (a failed invariant's
    /// first examples).
    pub details: Vec<String>,
}

impl JunitCase {
    /// An assertion of `report`; a failed invariant lists its first examples.
    pub fn assertion(report: &Report, a: &Assertion) -> JunitCase {
        let failure = (!a.passed).then(|| JunitFailure {
            message: a.message(),
            details: a
                .invariant_name()
                .and_then(|n| report.invariant(n))
                .map(|inv| {
                    inv.examples
                        .iter()
                        .map(|e| {
                            let on = e.endpoint.as_deref().map(|n| format!(" on {n}")).unwrap_or_default();
                            format!("request {} at {} ms{on}: {}", e.request, e.at_ms, e.detail)
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
        JunitCase { name: a.name.clone(), failure }
    }
}

impl JunitSuite {
    /// One run's assertions, named `<scenario> [seed N]`.
    pub fn of_report(r: &Report) -> JunitSuite {
        let mut suite = JunitSuite::of_seeds(r, r.seed);
        suite.cases = r.assertions.iter().map(|a| JunitCase::assertion(r, a)).collect();
        suite
    }

    /// The suite of `r`'s scenario and policy over the seeds from `r`'s up to
    /// `last` (`check --seeds N`), its cases still to add: named
    /// `<scenario> [seed S]` for one seed, `<scenario> [seeds A–B]` for several,
    /// with property `seed` holding the same.
    pub fn of_seeds(r: &Report, last: u64) -> JunitSuite {
        let (label, seeds) =
            if last == r.seed { ("seed", r.seed.to_string()) } else { ("seeds", format!("{}–{last}", r.seed)) };
        JunitSuite {
            name: format!("{} [{label} {seeds}]", r.scenario),
            scenario: r.scenario.clone(),
            properties: vec![
                ("scenario".to_string(), r.scenario.clone()),
                ("policy".to_string(), r.policy.clone()),
                ("seed".to_string(), seeds),
            ],
            cases: Vec::new(),
        }
    }

    fn failures(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_some()).count()
    }
}

/// Renders reports (one per scenario and seed) as one JUnit XML document.
pub fn to_junit(reports: &[&Report]) -> String {
    let suites: Vec<JunitSuite> = reports.iter().map(|r| JunitSuite::of_report(r)).collect();
    junit_document(&suites)
}

/// One line of user text in XML.
fn text(s: &str) -> String {
    xml(&plain_line(s))
}

/// Renders suites as one JUnit XML document.
pub fn junit_document(suites: &[JunitSuite]) -> String {
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(JunitSuite::failures).sum();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"windtunnel\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"0\">"
    );
    for suite in suites {
        let scenario = text(&suite.scenario);
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"0\">",
            text(&suite.name),
            suite.cases.len(),
            suite.failures()
        );
        s.push_str("    <properties>\n");
        for (name, value) in &suite.properties {
            let _ = writeln!(s, "      <property name=\"{}\" value=\"{}\"/>", text(name), text(value));
        }
        s.push_str("    </properties>\n");
        for case in &suite.cases {
            let _ = write!(s, "    <testcase classname=\"{scenario}\" name=\"{}\" time=\"0\"", text(&case.name));
            let Some(failure) = &case.failure else {
                s.push_str("/>\n");
                continue;
            };
            let message = text(&failure.message);
            let _ = write!(s, ">\n      <failure message=\"{message}\" type=\"assertion\">{message}");
            for line in &failure.details {
                s.push_str(&xml("\n"));
                s.push_str(&text(line));
            }
            s.push_str("</failure>\n    </testcase>\n");
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}
