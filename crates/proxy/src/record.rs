//! [`Recorder`]: `proxy --record FILE` writes the traffic it served as a
//! trace in windtunnel's JSON-lines format, replayable with `windtunnel run`.
//! Each request is written when it ends, with the output tokens its answer
//! really had (its `max_tokens` when it got none), in arrival order: a
//! request that ends early waits in a small buffer for those that arrived
//! before it. Prompts are written only with `--record-prompts`; keys and
//! headers never.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use windtunnel_core::Request;
use windtunnel_trace::TraceWriter;

/// Writes served requests as a trace, in arrival order.
pub(crate) struct Recorder {
    out: TraceWriter<BufWriter<File>>,
    prompts: bool,
    /// Ended requests waiting for earlier arrivals, by arrival number.
    waiting: BTreeMap<u64, Request>,
    /// The next arrival number to write.
    next: u64,
}

impl Recorder {
    /// A recorder writing to `path` (created or truncated).
    pub(crate) fn create(path: &Path, prompts: bool) -> io::Result<Recorder> {
        let file = File::create(path)?;
        Ok(Recorder { out: TraceWriter::new(BufWriter::new(file)), prompts, waiting: BTreeMap::new(), next: 0 })
    }

    /// Whether prompts are written.
    pub(crate) fn prompts(&self) -> bool {
        self.prompts
    }

    /// Request number `req.seq` ended; writes it and every waiting one after it.
    pub(crate) fn ended(&mut self, mut req: Request) -> io::Result<()> {
        if !self.prompts {
            req.messages = None;
        }
        self.waiting.insert(req.seq, req);
        while let Some(r) = self.waiting.remove(&self.next) {
            self.out.write(&r)?;
            self.next += 1;
        }
        Ok(())
    }

    /// Writes what is still waiting and flushes.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        for (_, r) in std::mem::take(&mut self.waiting) {
            self.out.write(&r)?;
        }
        self.out.flush()
    }
}
