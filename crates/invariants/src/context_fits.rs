//! `context_fits`: no attempt goes to an endpoint whose context window cannot
//! hold the request as that endpoint tokenizes it.
//!
//! Why from the event's `tokens` and not by re-tokenizing: the event carries
//! (input, max_tokens) as the endpoint counts them, which is what the window
//! is measured in; this crate need not know tokenizer skew. The prompt plus
//! `max_tokens` must fit (SPEC's context window rule): a prompt that fits but
//! leaves no room for the answer is still sent to fail.

use crate::check::{Check, Tally, kind};
use crate::open::OpenRequests;
use crate::result::Example;
use crate::world::World;
use windtunnel_core::Event;

/// SPEC's name.
pub(crate) const NAME: &str = "context_fits";

/// Stateless: the window is configuration.
#[derive(Clone, Debug, Default)]
pub(crate) struct ContextFits;

impl Check for ContextFits {
    fn reads(&self) -> u8 {
        kind::ATTEMPT_STARTED
    }

    #[inline(always)]
    fn observe(&mut self, event: &Event<'_>, _open: &mut OpenRequests, world: &World, tally: &mut Tally) {
        let Event::AttemptStarted { at, req, endpoint, tokens: (input, max), .. } = *event else { return };
        // An endpoint the world does not know has no window to break.
        let Some(window) = world.context_window(endpoint) else { return };
        if u64::from(input) + u64::from(max) > u64::from(window) {
            tally.report(|| {
                let detail = format!("{input} input + {max} max_tokens exceed the {window}-token window");
                Example::new(req, at, Some(endpoint), world, detail)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{Log, Start, all_hold, only_broken, req};
    use windtunnel_core::Outcome;

    #[test]
    fn a_request_filling_the_window_exactly_fits() {
        let a = req(0, 0);
        let mut log = Log::new();
        log.arrive(&a);
        log.start(0, &a, Start::new(1, 0).tokens(900, 100)); // 1,000 of 1,000
        log.start(1, &a, Start::new(2, 2).tokens(u32::MAX, u32::MAX)); // no window, no overflow
        log.finish(10, &a, Outcome::Succeeded);
        all_hold(&log.results());
    }

    #[test]
    fn a_request_over_the_window_as_the_endpoint_counts_it_is_a_violation() {
        let a = req(0, 0);
        let mut log = Log::new();
        log.arrive(&a);
        // 100 + 50 reference tokens, but this endpoint counts 951 + 50.
        log.start(0, &a, Start::new(1, 0).tokens(951, 50));
        log.start(5, &a, Start::new(2, 1).tokens(7_000, 1_000)); // the larger window holds it
        log.finish(10, &a, Outcome::Succeeded);
        let r = only_broken(&log.results(), "context_fits", 1);
        let e = &r.examples[0];
        assert_eq!((e.request.as_str(), e.at_ms, e.endpoint.as_deref()), ("1", 0, Some("a/small")));
        assert_eq!(e.detail, "951 input + 50 max_tokens exceed the 1000-token window");
    }
}
