//! The report relay: the aggregator and the invariant checker fold the event
//! log on a second core while the replay runs on its own.
//!
//! Why: on one core, folding the log is a sizeable share of a replay's time
//! (`report_overhead` bench). The replay's thread only packs each event
//! into a few words ([`wire`]), well under what folding it costs; the sinks
//! unpack and fold them on the other core. The figures are in
//! `crates/harness/benches/README.md`.
//! [`run`](crate::run) relays when the machine has a second core; `whatif`
//! relays only when its workers leave a core free for each run's relay.
//!
//! How: full chunks of words go over a bounded channel (the replay waits
//! when the sinks fall behind, so memory stays bounded) and come back empty
//! for reuse. The receiving thread polls for the next chunk for a while
//! before it blocks: waking a blocked thread costs the replay's thread a
//! system call and, in a virtual machine, an interrupt, per chunk, which
//! slowed the replay more than polling does (the `report_overhead` bench).
//! Napping between polls instead (no wake-up to pay) was no better and less
//! steady: a napping virtual CPU is slow to come back. The price of polling
//! is the second core's time: on the fastest replays (a fixed chain) the
//! receiver polls between chunks the whole run; on slower ones (a policy
//! script) it polls part of each gap, then blocks, and the wake-ups cost the
//! replay little.
//!
//! What the sinks see: the events the replay wrote, in its order, so a
//! relayed run's report is byte-identical to an unrelayed one (tested).
//! Requests arrive without `tags` and `messages`, which no report reads; a
//! sink that needs them must run on the replay's thread. An event for a
//! request that is not open, which the executor never writes and which
//! breaks `conservation`, reaches the sinks with a stand-in request (the
//! right `seq`, SPEC's defaults elsewhere): the checker flags it as it would
//! on the replay's thread, though the metrics may file it under another
//! tenant or class.
//!
//! This module owns the thread and the channel; [`wire`] owns the format.

mod wire;

use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use thiserror::Error;
use windtunnel_core::{Event, EventSink};
use wire::{Chunk, Decoder, Encoder};

/// Words per chunk (128 KiB): a request takes about 31 words (arrival,
/// attempt start and end, outcome), so a 1 M-request replay makes about
/// 1,900 hand-overs. A chunk goes when the longest record might not fit, so
/// it never outgrows its allocation (a record carrying a string aside: a new
/// symbol, a request id, which may outgrow it once).
const CHUNK_WORDS: usize = 16 * 1024;

/// Full chunks on their way at most: how far the sinks may fall behind
/// (2 MiB, about 4 ms of the fastest replay; a little more when records
/// carrying request ids have grown some chunks) before the replay waits,
/// which rides out a receiving thread that the machine sets aside for a moment.
const DEPTH: usize = 16;

/// Polls for a chunk before the receiving thread blocks: at a spin-loop
/// pause each, somewhere between a few hundred microseconds and a
/// millisecond, longer than the fastest replay takes to fill a chunk.
const POLLS: u32 = 20_000;

/// A relay that could not carry the event log to its end.
#[derive(Debug, Error)]
pub enum RelayError {
    /// The operating system would not start the thread. [`run`](crate::run)
    /// with [`Fold::Auto`](crate::Fold::Auto) folds on the replay's thread instead.
    #[error("cannot start the report thread")]
    Spawn(#[source] std::io::Error),
    /// The relay's own encoding did not decode (a bug, never bad input).
    #[error("internal error: the report relay's event stream did not decode at word {at_word}")]
    Garbled {
        /// Where decoding stopped.
        at_word: usize,
    },
}

/// Runs `body` with a [`Relay`] whose events reach `sink` on a second
/// thread, and returns what `body` returned once `sink` has seen them all.
/// If the thread cannot start, `body` is not called. A panic in `sink`
/// reaches the caller as the same panic, as it would without the relay.
pub fn relayed<S, R>(sink: &mut S, body: impl FnOnce(&mut Relay) -> R) -> Result<R, RelayError>
where
    S: EventSink + Send,
{
    let (full_tx, full_rx) = mpsc::sync_channel(DEPTH);
    let (empty_tx, empty_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let receiver = std::thread::Builder::new()
            .name("windtunnel-report".to_string())
            .spawn_scoped(scope, move || receive(sink, &full_rx, &empty_tx))
            .map_err(RelayError::Spawn)?;
        let mut relay = Relay {
            chunk: Chunk::with_capacity(CHUNK_WORDS),
            encoder: Encoder::default(),
            full: full_tx,
            empty: empty_rx,
        };
        let out = body(&mut relay);
        if !relay.chunk.words.is_empty() {
            relay.send();
        }
        // Closing the channel ends the receiver's loop.
        drop(relay);
        match receiver.join() {
            Ok(Ok(())) => Ok(out),
            Ok(Err(garbled)) => Err(RelayError::Garbled { at_word: garbled.at_word }),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The replay's end of the relay: an [`EventSink`] that packs each event
/// into the current chunk.
pub struct Relay {
    chunk: Chunk,
    encoder: Encoder,
    full: SyncSender<Chunk>,
    empty: Receiver<Chunk>,
}

impl Relay {
    #[cold]
    #[inline(never)]
    fn send(&mut self) {
        let next = self.empty.try_recv().unwrap_or_else(|_| Chunk::with_capacity(CHUNK_WORDS));
        let full = std::mem::replace(&mut self.chunk, next);
        // A closed channel means the receiver ended early, with `Garbled` or
        // a panic, which `relayed` reports once the replay is done; until
        // then the chunk is reused.
        if let Err(mpsc::SendError(mut unsent)) = self.full.send(full) {
            unsent.clear();
            self.chunk = unsent;
        }
    }
}

impl EventSink for Relay {
    /// Inlined at the executor's call sites (see [`EventSink`]), and so is
    /// each common kind's encoding: a few loads and stores, written at the
    /// one place that kind is recorded, where a call cost noticeably more
    /// (callgrind; figures in `crates/harness/benches/README.md`).
    #[inline(always)]
    fn record(&mut self, event: &Event<'_>) {
        self.encoder.encode(&mut self.chunk, event);
        if self.chunk.words.len() > CHUNK_WORDS - wire::MAX_RECORD_WORDS {
            self.send();
        }
    }
}

/// The sinks' thread: decodes every chunk into `sink` until the relay closes.
fn receive<S: EventSink>(sink: &mut S, full: &Receiver<Chunk>, empty: &Sender<Chunk>) -> Result<(), wire::Garbled> {
    let mut decoder = Decoder::default();
    while let Some(mut chunk) = next_chunk(full) {
        decoder.decode(&chunk, sink)?;
        chunk.clear();
        // The relay may have closed already; then the chunk is simply freed.
        let _ = empty.send(chunk);
    }
    Ok(())
}

/// The next chunk, polling before sleeping; `None` once the relay closed.
fn next_chunk(full: &Receiver<Chunk>) -> Option<Chunk> {
    for _ in 0..POLLS {
        match full.try_recv() {
            Ok(chunk) => return Some(chunk),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
    full.recv().ok()
}
