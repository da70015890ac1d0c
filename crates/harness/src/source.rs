//! Where a run's requests come from: a trace file (streamed) or the synthetic
//! generator, with the scenario's `limit` and `speed` applied.

use crate::RunError;
use windtunnel_config::{TraceSource, TraceSpec};
use windtunnel_core::{Request, Streams};
use windtunnel_trace::{Generator, ReadOptions, TraceReader};

/// A stream of requests in arrival order.
pub enum Requests {
    /// From a file.
    File(TraceReader),
    /// Generated.
    Synthetic {
        /// The generator (boxed: it is several times the size of a file reader).
        generator: Box<Generator>,
        /// Arrival times are divided by this.
        speed: f64,
        /// Stop at this arrival time.
        limit_ms: Option<u64>,
    },
}

impl Requests {
    /// Opens the trace of a scenario. Synthetic traces draw from `streams`.
    pub fn open(spec: &TraceSpec, streams: &Streams) -> Result<Requests, RunError> {
        match &spec.source {
            TraceSource::File { path, format } => {
                let opts =
                    ReadOptions { skip_bad_lines: spec.skip_bad_lines, limit_ms: spec.limit_ms, speed: spec.speed };
                Ok(Requests::File(TraceReader::open(path, *format, opts)?))
            }
            TraceSource::None => Err(RunError::NoTrace { scenario: String::new() }),
            TraceSource::Synthetic(s) => Ok(Requests::Synthetic {
                generator: Box::new(Generator::new(s, streams)),
                speed: spec.speed,
                limit_ms: spec.limit_ms,
            }),
        }
    }

    /// Bad lines skipped so far.
    pub fn skipped(&self) -> u64 {
        match self {
            Requests::File(r) => r.skipped(),
            Requests::Synthetic { .. } => 0,
        }
    }

    /// The next request, `None` at the end.
    pub fn next_request(&mut self) -> Result<Option<Request>, RunError> {
        match self {
            Requests::File(r) => Ok(r.next().transpose()?),
            Requests::Synthetic { generator, speed, limit_ms } => {
                let Some(mut req) = generator.next() else { return Ok(None) };
                if *speed != 1.0 {
                    req.at_ms = (req.at_ms as f64 / *speed).round() as u64;
                }
                if limit_ms.is_some_and(|l| req.at_ms >= l) {
                    return Ok(None);
                }
                Ok(Some(req))
            }
        }
    }
}
