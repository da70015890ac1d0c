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
//! are user text on one line each. The data types and the writer are core's
//! (`windtunnel_core::junit_xml`, shared with the policy tests' JUnit); this
//! module makes suites and cases from reports.

use crate::Report;
use crate::schema::Assertion;
use windtunnel_core::junit_xml;
pub use windtunnel_core::{JunitCase, JunitFailure, JunitSuite};

/// Test cases made from a report's assertions.
pub trait CaseOfAssertion {
    /// An assertion of `report`; a failed invariant lists its first examples.
    fn assertion(report: &Report, a: &Assertion) -> JunitCase;
}

/// Test suites made from reports.
pub trait SuiteOfReport {
    /// One run's assertions, named `<scenario> [seed N]`.
    fn of_report(r: &Report) -> JunitSuite;
    /// The suite of `r`'s scenario and policy over the seeds from `r`'s up to
    /// `last` (`check --seeds N`), its cases still to add: named
    /// `<scenario> [seed S]` for one seed, `<scenario> [seeds A–B]` for several,
    /// with property `seed` holding the same.
    fn of_seeds(r: &Report, last: u64) -> JunitSuite;
}

impl CaseOfAssertion for JunitCase {
    fn assertion(report: &Report, a: &Assertion) -> JunitCase {
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

impl SuiteOfReport for JunitSuite {
    fn of_report(r: &Report) -> JunitSuite {
        let mut suite = JunitSuite::of_seeds(r, r.seed);
        suite.cases = r.assertions.iter().map(|a| JunitCase::assertion(r, a)).collect();
        suite
    }

    fn of_seeds(r: &Report, last: u64) -> JunitSuite {
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
}

/// Renders reports (one per scenario and seed) as one JUnit XML document.
pub fn to_junit(reports: &[&Report]) -> String {
    let suites: Vec<JunitSuite> = reports.iter().map(|r| JunitSuite::of_report(r)).collect();
    junit_document(&suites)
}

/// Renders suites as one JUnit XML document (core's one writer).
pub fn junit_document(suites: &[JunitSuite]) -> String {
    junit_xml("windtunnel", suites)
}
