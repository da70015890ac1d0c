//! A request in flight: [`Flight`], its identity ([`FlightId`], [`AttemptId`]),
//! the attempts it has out ([`Running`]), the endpoints it has tried
//! ([`Tried`]), its wait for a held endpoint ([`Waiting`]) and its answer
//! ([`Answer`]); and the executor's slots that hold flights.
//!
//! A flight is large (a request, a plan and the lists above): it is built in
//! its slot and dropped in its slot, never moved.

use super::Executor;
use windtunnel_core::{EndpointIdx, ErrorKind, Nanodollars, Plan, Planner, Request};

/// A request in flight: slot and generation, so a late report for a finished
/// request is recognised and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlightId {
    pub(super) slot: u32,
    pub(super) generation: u32,
}

impl FlightId {
    /// The slot: dense, reused after the request finishes. Drivers may index by it.
    pub fn slot(self) -> usize {
        self.slot as usize
    }
}

/// One attempt of one flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptId {
    /// The request.
    pub flight: FlightId,
    /// 1-based attempt number across the chain.
    pub attempt: u32,
}

/// An attempt that is out.
#[derive(Clone, Copy, Debug)]
pub(super) struct Running {
    pub(super) attempt: u32,
    pub(super) endpoint: EndpointIdx,
    /// Its position in the plan's chain.
    pub(super) pos: usize,
    pub(super) started_at: u64,
    /// The budget reservation, settled when it reports.
    pub(super) reserved: Nanodollars,
    /// A half-open breaker's probe.
    pub(super) probe: bool,
}

/// One endpoint a request has tried.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tried {
    pub(super) endpoint: EndpointIdx,
    /// Attempts made there.
    pub(super) attempts: u32,
    /// Done for this request: it answered with a fatal kind.
    pub(super) dead: bool,
}

/// An answer: the endpoint that gave it, its quality and its time to first
/// token from the request's arrival.
#[derive(Clone, Copy, Debug)]
pub(super) struct Answer {
    pub(super) endpoint: EndpointIdx,
    pub(super) quality: f64,
    pub(super) ttft_ms: Option<u64>,
}

/// A flight waiting for a held endpoint to come free.
#[derive(Clone, Copy, Debug)]
pub(super) struct Waiting {
    /// No wait may end after this: the first wait's start plus `max_wait_ms`.
    pub(super) until: u64,
    /// The failure that led here, for the failover event.
    pub(super) failed: Option<(EndpointIdx, ErrorKind)>,
}

pub(super) struct Flight {
    pub(super) generation: u32,
    pub(super) req: Request,
    pub(super) plan: Plan,
    pub(super) arrived: u64,
    pub(super) deadline_at: u64,
    pub(super) attempts: u32,
    /// Chain position of the latest attempt.
    pub(super) pos: usize,
    /// Per endpoint tried: attempts made there and whether it is done for
    /// this request.
    pub(super) tried: Vec<Tried>,
    pub(super) running: Vec<Running>,
    pub(super) cost: Nanodollars,
    pub(super) retries_here: u32,
    pub(super) wake_token: u32,
    pub(super) hedged: bool,
    pub(super) last_error: Option<ErrorKind>,
    /// An accepted answer waiting for cancelled hedges to report.
    pub(super) answer: Option<Answer>,
    /// The best answer a cascade's `accept` turned down: if every later tier
    /// fails, the request is answered with it rather than failed.
    pub(super) fallback: Option<Answer>,
    /// Plan `max_wait_ms`: set while the request waits for a held endpoint.
    pub(super) wait: Option<Box<Waiting>>,
    /// The first byte of an answer reached the client: no silent failover.
    pub(super) committed: bool,
    /// After an upstream context-length refusal: the refusing endpoint's
    /// window (`Some(None)`: unlimited, so no window is larger). Failover
    /// goes only to endpoints with a larger window (SPEC, live mode).
    pub(super) refused_window: Option<Option<u32>>,
}

// === impl Flight ===

impl Flight {
    /// Whether an endpoint with `window` is no larger than one that refused
    /// the request for its length (`None` = unlimited).
    pub(super) fn window_too_small(&self, window: Option<u32>) -> bool {
        match self.refused_window {
            None => false,
            Some(None) => true,
            Some(Some(refused)) => window.is_some_and(|w| w <= refused),
        }
    }

    /// Notes a context-length refusal by an endpoint with `window`.
    pub(super) fn refused_for_length(&mut self, window: Option<u32>) {
        self.refused_window = Some(match (self.refused_window, window) {
            (Some(None), _) | (_, None) => None,
            (Some(Some(a)), Some(b)) => Some(a.max(b)),
            (None, Some(b)) => Some(b),
        });
    }
    /// Whether `endpoint` is done for this request (a fatal error there).
    pub(super) fn is_dead(&self, endpoint: EndpointIdx) -> bool {
        self.tried.iter().any(|t| t.endpoint == endpoint && t.dead)
    }

    /// Marks `endpoint` done for this request, if it was tried.
    pub(super) fn mark_dead(&mut self, endpoint: EndpointIdx) {
        if let Some(t) = self.tried.iter_mut().find(|t| t.endpoint == endpoint) {
            t.dead = true;
        }
    }

    /// Counts one more attempt on `endpoint`; returns this request's count there.
    pub(super) fn count_attempt(&mut self, endpoint: EndpointIdx) -> u32 {
        match self.tried.iter_mut().find(|t| t.endpoint == endpoint) {
            Some(t) => {
                t.attempts += 1;
                t.attempts
            }
            None => {
                self.tried.push(Tried { endpoint, attempts: 1, dead: false });
                1
            }
        }
    }
}

// === impl Executor: slots ===

impl<P: Planner> Executor<P> {
    pub(super) fn flight(&self, id: FlightId) -> Option<&Flight> {
        self.flights.get(id.slot as usize)?.as_ref().filter(|f| f.generation == id.generation)
    }

    pub(super) fn flight_mut(&mut self, id: FlightId) -> Option<&mut Flight> {
        self.flights.get_mut(id.slot as usize)?.as_mut().filter(|f| f.generation == id.generation)
    }

    /// A free slot (a new one when none is free) and the id its next flight gets.
    pub(super) fn vacant_slot(&mut self) -> FlightId {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.flights.push(None);
                self.generations.push(0);
                (self.flights.len() - 1) as u32
            }
        };
        FlightId { slot, generation: self.generations[slot as usize] }
    }

    /// Drops a finished flight and frees its slot; a late report for it no
    /// longer matches the slot's generation.
    pub(super) fn release_slot(&mut self, id: FlightId) {
        if let Some(slot) = self.flights.get_mut(id.slot as usize) {
            end_flight(slot);
        }
        self.generations[id.slot as usize] = self.generations[id.slot as usize].wrapping_add(1);
        self.free.push(id.slot);
    }
}

/// Drops a finished flight where it lies. A function of its own: written
/// inline in `finish`, the compiler built a whole empty `Option<Flight>` on
/// the stack and copied all of it over the slot.
#[inline(never)]
fn end_flight(slot: &mut Option<Flight>) {
    *slot = None;
}
