//! An open-loop load generator: sends chat completions at a fixed rate (one
//! every `1/rate` seconds, whether or not earlier ones answered) for a fixed
//! time, then prints latency percentiles. Used to measure the latency the
//! proxy adds at 1,000 requests/s (crates/proxy/benches/README.md).
//!
//! `open_loop URL RATE SECONDS` — its own ceiling on this 2-core machine is
//! stated in the README beside the figures.

#![expect(clippy::unwrap_used, clippy::print_stdout, clippy::disallowed_types, reason = "a benchmark tool")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "http://127.0.0.1:18080/v1/chat/completions".into());
    let rate: f64 = args.next().map_or(1000.0, |r| r.parse().unwrap());
    let secs: f64 = args.next().map_or(10.0, |s| s.parse().unwrap());
    let body = r#"{"model":"m","max_tokens":16,"messages":[{"role":"user","content":"Say ok."}]}"#;
    let client = reqwest::Client::builder().pool_max_idle_per_host(512).build().unwrap();
    let hist = Arc::new(Mutex::new(hdrhistogram::Histogram::<u64>::new(3).unwrap()));
    let errors = Arc::new(Mutex::new(0u64));
    let n = (rate * secs) as u64;
    let gap = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        tokio::time::sleep_until(start + gap * i as u32).await;
        let (client, url, hist, errors) = (client.clone(), url.clone(), hist.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = match client.post(&url).header("content-type", "application/json").body(body).send().await {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            };
            if ok {
                hist.lock().unwrap().record(t.elapsed().as_micros() as u64).unwrap();
            } else {
                *errors.lock().unwrap() += 1;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let h = hist.lock().unwrap();
    println!(
        "sent {n} in {elapsed:.2} s ({:.0}/s), errors {}; latency µs: p50 {} p90 {} p99 {} p99.9 {} max {}",
        n as f64 / elapsed,
        errors.lock().unwrap(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    );
}
