//! JUnit XML, the one writer: the report's `junit.xml` (`run`, `check
//! --junit`) and the policy tests' `--junit` both build [`JunitSuite`]s and
//! call [`junit_xml`], so the format, its escaping and its quirks live in one
//! place. Names, messages and detail lines are user text on one line each:
//! their control characters are written as escapes ([`plain_line`]), so none
//! can add a line to a log that prints them. Time is `0`: a virtual-time run
//! has no wall time worth reporting, and the file must be the same bytes on
//! every run.

use crate::xml::{plain_line, xml_escape};
use std::fmt::Write;

/// One `<testsuite>`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JunitSuite {
    /// The suite's name (`quickstart [seed 42]`, a test file).
    pub name: String,
    /// Every case's `classname` (the scenario, the test file).
    pub scenario: String,
    /// `<property>` elements, in order (none: no `<properties>`).
    pub properties: Vec<(String, String)>,
    /// The test cases, in order.
    pub cases: Vec<JunitCase>,
}

/// One `<testcase>`.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitCase {
    /// The check's name (`max_cost_usd`, `test_open_breaker_is_skipped`).
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

impl JunitSuite {
    /// Cases that failed.
    pub fn failures(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_some()).count()
    }
}

/// One line of user text in XML.
fn text(s: &str) -> String {
    xml_escape(&plain_line(s))
}

/// Renders suites as one JUnit XML document named `name`.
pub fn junit_xml(name: &str, suites: &[JunitSuite]) -> String {
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(JunitSuite::failures).sum();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"0\">",
        text(name)
    );
    for suite in suites {
        let classname = text(&suite.scenario);
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"0\">",
            text(&suite.name),
            suite.cases.len(),
            suite.failures()
        );
        if !suite.properties.is_empty() {
            s.push_str("    <properties>\n");
            for (name, value) in &suite.properties {
                let _ = writeln!(s, "      <property name=\"{}\" value=\"{}\"/>", text(name), text(value));
            }
            s.push_str("    </properties>\n");
        }
        for case in &suite.cases {
            let _ = write!(s, "    <testcase classname=\"{classname}\" name=\"{}\" time=\"0\"", text(&case.name));
            let Some(failure) = &case.failure else {
                s.push_str("/>\n");
                continue;
            };
            let message = text(&failure.message);
            let _ = write!(s, ">\n      <failure message=\"{message}\" type=\"assertion\">{message}");
            for line in &failure.details {
                s.push_str(&xml_escape("\n"));
                s.push_str(&text(line));
            }
            s.push_str("</failure>\n    </testcase>\n");
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}
