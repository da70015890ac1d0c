//! Replay tests: determinism by seed and common random numbers across policies.

use crate::{RunOptions, run, run_with};
use std::path::Path;
use windtunnel_config::{Scenario, parse_scenario};
use windtunnel_core::{EndpointIdx, Event, EventSink, FixedChain, Plan};

const SCENARIO: &str = r#"
name = "crn"
seed = 3
policy = { chain = ["a/x", "b/y"] }

[trace.synthetic]
rate_per_s = 5
duration = "30m"
classes = { interactive = 0.5, batch = 0.5 }

[sla.interactive]
latency_ms = 8000
deadline_ms = 20000

[[endpoints]]
name = "a/x"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
rate_limit = { rpm = 200 }

[[endpoints.faults]]
kind = "outage"
every = "5m"
lasting = "1m"

[[endpoints.faults]]
kind = "rate_limit_burst"
every = "3m"
lasting = "20s"
probability = 0.7

[[endpoints]]
name = "b/y"
price = { input_per_mtok = 3.0, output_per_mtok = 6.0 }
concurrency = 4

[[endpoints.faults]]
kind = "hang"
start = "10m"
end = "12m"
probability = 0.5
"#;

fn scenario() -> Scenario {
    parse_scenario(SCENARIO, Path::new("crn.toml"), &[]).expect("valid scenario")
}

/// Keeps what the world did, as opposed to what the policy did.
#[derive(Default)]
struct World {
    arrivals: Vec<(u64, u64, String, u32, u32)>,
    windows: Vec<(EndpointIdx, u16, u64, u64)>,
    outcomes: u64,
}

impl EventSink for World {
    fn record(&mut self, e: &Event<'_>) {
        match *e {
            Event::Arrived { at, req } => {
                self.arrivals.push((at, req.seq, req.class.to_string(), req.input_tokens, req.output_tokens))
            }
            Event::FaultWindow { endpoint, fault, start, end } => self.windows.push((endpoint, fault, start, end)),
            Event::Finished { .. } => self.outcomes += 1,
            _ => {}
        }
    }
}

fn world_of(s: &Scenario, chain: Vec<EndpointIdx>) -> (World, String) {
    let mut world = World::default();
    let opts = RunOptions { extra_sink: Some(&mut world), progress: None };
    let report = run_with(s, FixedChain::new(Plan::chain(chain)), "test".into(), opts).expect("run");
    let json = crate::tests::json(&report);
    (world, json)
}

fn json(r: &windtunnel_report::Report) -> String {
    windtunnel_report::to_json(r).expect("serialize")
}

#[test]
fn same_seed_same_report_bytes_other_seed_other_report() {
    let s = scenario();
    let a = json(&run(&s, RunOptions::default()).expect("run"));
    let b = json(&run(&s, RunOptions::default()).expect("run"));
    assert_eq!(a, b);
    let mut other = s.clone();
    other.seed = 4;
    assert_ne!(a, json(&run(&other, RunOptions::default()).expect("run")));
}

#[test]
fn a_different_chain_meets_the_same_arrivals_and_fault_windows() {
    let s = scenario();
    let (w1, r1) = world_of(&s, vec![EndpointIdx(0), EndpointIdx(1)]);
    let (w2, r2) = world_of(&s, vec![EndpointIdx(1), EndpointIdx(0)]);
    assert_ne!(r1, r2, "the policies differ, so their reports do");
    assert!(w1.arrivals.len() > 8000, "{} arrivals", w1.arrivals.len());
    assert_eq!(w1.arrivals, w2.arrivals, "arrivals do not depend on the policy");
    assert!(w1.windows.len() >= 5, "stochastic windows were announced: {:?}", w1.windows);
    assert_eq!(w1.windows, w2.windows, "fault windows do not depend on the policy");
    assert_eq!(w1.outcomes, w1.arrivals.len() as u64, "one outcome per request");
    assert_eq!(w2.outcomes, w2.arrivals.len() as u64);
}
