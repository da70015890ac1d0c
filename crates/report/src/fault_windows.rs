//! Fault-window analysis: for every fault window the simulator announces, how
//! long the policy took to notice, how many requests failed inside it, and how
//! long traffic took to come back. Computed from the event log alone.
//!
//! # Definitions
//! A window on endpoint E runs from `start` (inclusive) to `end` (exclusive;
//! `u64::MAX` = to the end of the run).
//!
//! - **`detected_after_ms`** = `t - start`, where `t` is the first moment at or
//!   after `start` when traffic was steered away from E, the earliest of:
//!   1. a `Failover` event *from* E (the executor moved a request off E);
//!   2. E's breaker opening (a `Breaker` event to `open`);
//!   3. *routing around*, for policies that change their first choice instead
//!      of failing over: if E was the policy's sole first choice just before
//!      the window (the last [`ROUTING_STREAK`] first attempts all went to E),
//!      the first of [`ROUTING_CONFIRM`] consecutive first attempts that went
//!      elsewhere. The streak keeps a policy that merely splits traffic (by
//!      class, by weight) from looking as if it noticed; the confirmation keeps
//!      one request of a rare class from looking like a change of mind.
//!
//!   Detection stays possible after `end` until E recovers (a hang is only
//!   noticed when the attempts it caught time out, which may be after a short
//!   window ends). `null` if none of the three happened by then.
//! - **`failed_requests`** = requests that finished failed or rejected at a
//!   time in `[start, end)` and had made at least one attempt on E.
//! - **`recovered_after_ms`** = `t - end`, where `t` is the first successful
//!   attempt on E that finished at or after `end`; `null` if there was none, or
//!   the window never ended.
//!
//! # Memory and speed
//! "Had an attempt on E" needs a little state per in-flight request: a
//! bitmask of the endpoints it tried, in core's `SeqMap` by the request's
//! trace position ([`Attempted`]). Its size follows the span of trace
//! positions between the oldest unfinished request and the newest arrival,
//! so it is bounded by the longest request times the arrival rate, not by the
//! trace length. It is only kept when the scenario declares faults (or once
//! a window is seen).
//!
//! Per listed window the tracker keeps one small record (which is also the
//! report's row) plus its index in short lists: windows still open (for
//! failure counting), and per endpoint the windows not yet detected or not
//! yet recovered. Each event scans only the list it can affect, and only when
//! that list is non-empty, so the common event costs a branch. A window
//! leaves the lists once it is detected and recovered.
//!
//! # The cap on listed windows
//! A stochastic fault with a short `every` opens a window every few
//! milliseconds: `every = "1ms"` over ten minutes is 600,000 windows, and
//! listing them all made a report of hundreds of megabytes. So
//! `failover.windows` lists at most [`MAX_LISTED_WINDOWS`] windows: the first
//! by start time (then endpoint and fault order), and `failover.windows_total`
//! counts every window announced, `failover.windows_omitted` those not listed
//! (`windows_total = len(windows) + windows_omitted`), so nothing is dropped
//! silently. The tracker keeps records only for the windows it lists (at
//! most [`MAX_LISTED_WINDOWS`]) and a counter for the rest, so its memory is
//! bounded too. Windows are announced nearly in start order (when the clock
//! passes their start, endpoint by endpoint), so a window announced once the
//! list is full almost always starts after every listed one and is only
//! counted, in constant time; one that starts earlier than the last listed
//! window takes that window's place, which is then counted as omitted.

use crate::schema::FaultWindowSection;
use windtunnel_core::SeqMap;

/// First attempts in a row an endpoint must have received just before a
/// window for a first attempt elsewhere to count as routing around it: 32 in a
/// row is what a sole first choice gets, and what an endpoint with 90% of the
/// first attempts gets by chance only 3% of the time.
pub(crate) const ROUTING_STREAK: u32 = 32;

/// First attempts in a row that must avoid the endpoint to confirm that the
/// policy routed around it: a single request of a rare class sent elsewhere
/// is not a change of mind.
pub(crate) const ROUTING_CONFIRM: u32 = 8;

/// Most windows listed in `failover.windows` (see the module docs).
pub(crate) const MAX_LISTED_WINDOWS: usize = 1000;

/// Endpoints from this index on share one bit of the mask (scenarios rarely
/// have more than 63 endpoints; past that `failed_requests` may count a
/// request that tried a different endpoint of that tail).
const SHARED_BIT: usize = 63;

fn bit(endpoint: usize) -> u64 {
    1 << endpoint.min(SHARED_BIT)
}

/// The endpoints each in-flight request has tried, by trace position.
#[derive(Debug, Default)]
struct Attempted {
    masks: SeqMap<u64>,
}

impl Attempted {
    #[inline]
    fn arrive(&mut self, seq: u64) {
        self.masks.insert(seq, 0);
    }

    #[inline]
    fn attempt(&mut self, seq: u64, endpoint: usize) {
        if let Some(m) = self.masks.get_mut(seq) {
            *m |= bit(endpoint);
        }
    }

    /// The request's mask (0 if untracked); forgets the request.
    #[inline]
    fn finish(&mut self, seq: u64) -> u64 {
        self.masks.remove(seq).unwrap_or(0)
    }
}

/// One window's record.
#[derive(Clone, Debug)]
struct Window {
    endpoint: u16,
    fault: u16,
    start: u64,
    end: u64,
    detected_at: Option<u64>,
    failed: u64,
    recovered_at: Option<u64>,
    /// Routing-around candidate: the first of the current run of first
    /// attempts that avoided the endpoint, and the run's length.
    skip_since: u64,
    skips: u32,
}

impl Window {
    fn settled(&self) -> bool {
        self.detected_at.is_some() || self.recovered_at.is_some()
    }

    /// The report's order: start, then endpoint, then fault.
    fn key(&self) -> (u64, u16, u16) {
        (self.start, self.endpoint, self.fault)
    }
}

/// Tracks the fault windows through the event log: the first
/// [`MAX_LISTED_WINDOWS`] by start in detail, the others by count.
#[derive(Debug)]
pub(crate) struct FaultWindows {
    /// Per endpoint, the kind name of each of its faults, and for a live
    /// chaos rule's window the rule's name.
    fault_names: Vec<Vec<(std::borrow::Cow<'static, str>, Option<String>)>>,
    /// The listed windows, at most [`MAX_LISTED_WINDOWS`], in no order.
    windows: Vec<Window>,
    /// Every window announced, listed or not.
    total: u64,
    /// Once the list is full: the index of its last window in the report's
    /// order, the one a window that starts earlier replaces.
    last: Option<u32>,
    /// Windows whose end had not passed at the last look.
    open: Vec<u32>,
    /// Per endpoint: windows neither detected nor recovered.
    undetected: Vec<Vec<u32>>,
    /// Per endpoint: ended (or ending) windows not yet recovered.
    awaiting: Vec<Vec<u32>>,
    /// Windows on a sole first choice, not yet detected.
    routing: Vec<u32>,
    attempted: Attempted,
    tracking: bool,
    /// The endpoint of the latest first attempt and how many in a row went there.
    last_first: Option<u16>,
    streak: u32,
}

impl FaultWindows {
    /// A tracker for endpoints with these fault kinds; per-request tracking
    /// starts at once when any endpoint has a fault.
    pub(crate) fn new(fault_names: Vec<Vec<&'static str>>) -> FaultWindows {
        let n = fault_names.len();
        let tracking = fault_names.iter().any(|f| !f.is_empty());
        FaultWindows {
            fault_names: fault_names
                .into_iter()
                .map(|f| f.into_iter().map(|k| (std::borrow::Cow::Borrowed(k), None)).collect())
                .collect(),
            windows: Vec::new(),
            total: 0,
            last: None,
            open: Vec::new(),
            undetected: vec![Vec::new(); n],
            awaiting: vec![Vec::new(); n],
            routing: Vec::new(),
            attempted: Attempted::default(),
            tracking,
            last_first: None,
            streak: 0,
        }
    }

    #[inline]
    pub(crate) fn arrived(&mut self, seq: u64) {
        if self.tracking {
            self.attempted.arrive(seq);
        }
    }

    #[inline]
    pub(crate) fn attempt_started(&mut self, at: u64, seq: u64, endpoint: u16, attempt: u32) {
        if self.tracking {
            self.attempted.attempt(seq, usize::from(endpoint));
        }
        if attempt != 1 {
            return;
        }
        if self.last_first == Some(endpoint) {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.last_first = Some(endpoint);
            self.streak = 1;
        }
        if !self.routing.is_empty() {
            self.route(at, endpoint);
        }
    }

    fn route(&mut self, at: u64, endpoint: u16) {
        for &i in &self.routing {
            let Some(w) = self.windows.get_mut(i as usize) else { continue };
            if w.settled() {
                continue;
            }
            if w.endpoint == endpoint {
                w.skips = 0;
            } else {
                if w.skips == 0 {
                    w.skip_since = at;
                }
                w.skips += 1;
                if w.skips >= ROUTING_CONFIRM {
                    w.detected_at = Some(w.skip_since);
                }
            }
        }
        let windows = &self.windows;
        self.routing.retain(|&i| windows.get(i as usize).is_some_and(|w| !w.settled()));
    }

    #[inline]
    pub(crate) fn attempt_finished(&mut self, at: u64, endpoint: u16, succeeded: bool) {
        if succeeded && self.awaiting.get(usize::from(endpoint)).is_some_and(|a| !a.is_empty()) {
            self.recover(at, usize::from(endpoint));
        }
    }

    fn recover(&mut self, at: u64, e: usize) {
        let (Some(awaiting), Some(undetected)) = (self.awaiting.get_mut(e), self.undetected.get_mut(e)) else {
            return;
        };
        let windows = &mut self.windows;
        awaiting.retain(|&i| match windows.get_mut(i as usize) {
            Some(w) if w.end <= at => {
                w.recovered_at = Some(at);
                false
            }
            Some(_) => true,
            None => false,
        });
        undetected.retain(|&i| windows.get(i as usize).is_some_and(|w| !w.settled()));
    }

    /// A failover away from `endpoint`, or its breaker opening.
    #[inline]
    pub(crate) fn steered_away(&mut self, at: u64, endpoint: u16) {
        let Some(undetected) = self.undetected.get_mut(usize::from(endpoint)) else { return };
        if undetected.is_empty() {
            return;
        }
        let windows = &mut self.windows;
        undetected.retain(|&i| match windows.get_mut(i as usize) {
            Some(w) if w.start <= at => {
                w.detected_at.get_or_insert(at);
                false
            }
            Some(_) => true,
            None => false,
        });
    }

    pub(crate) fn window(&mut self, endpoint: u16, fault: u16, start: u64, end: u64) {
        let e = usize::from(endpoint);
        if e >= self.undetected.len() {
            return;
        }
        self.total += 1;
        // A window in a scenario without declared faults (live chaos): track
        // requests from here on.
        self.tracking = true;
        // The clock has reached `start`: windows that ended before it can
        // count no more failures.
        let windows = &self.windows;
        self.open.retain(|&i| windows.get(i as usize).is_some_and(|w| w.end > start));
        let window = Window {
            endpoint,
            fault,
            start,
            end,
            detected_at: None,
            failed: 0,
            recovered_at: None,
            skip_since: 0,
            skips: 0,
        };
        let i = if self.windows.len() < MAX_LISTED_WINDOWS {
            self.windows.push(window);
            self.windows.len() - 1
        } else {
            // The list is full: the window is listed only if it comes before
            // the last listed one, which it then replaces.
            let Some(last) = self.last.or_else(|| self.last_listed()) else { return };
            let Some(slot) = self.windows.get_mut(last as usize) else { return };
            if window.key() >= slot.key() {
                self.last = Some(last);
                return;
            }
            *slot = window;
            self.forget(last);
            self.last = self.last_listed();
            last as usize
        };
        let i = i as u32;
        self.open.push(i);
        if let Some(u) = self.undetected.get_mut(e) {
            u.push(i);
        }
        if end != u64::MAX
            && let Some(a) = self.awaiting.get_mut(e)
        {
            a.push(i);
        }
        if self.last_first == Some(endpoint) && self.streak >= ROUTING_STREAK {
            self.routing.push(i);
        }
    }

    /// Names a new fault of `endpoint` (a live chaos rule); its index.
    pub(crate) fn add_fault(&mut self, endpoint: u16, kind: &str, rule: &str) -> u16 {
        let Some(list) = self.fault_names.get_mut(usize::from(endpoint)) else { return u16::MAX };
        list.push((std::borrow::Cow::Owned(kind.to_string()), Some(rule.to_string())));
        u16::try_from(list.len() - 1).unwrap_or(u16::MAX)
    }

    /// The open-ended windows of `fault` on `endpoint` end at `at`: from
    /// then on they count no failures, and their recovery is looked for.
    pub(crate) fn close(&mut self, endpoint: u16, fault: u16, at: u64) {
        let e = usize::from(endpoint);
        for (i, w) in self.windows.iter_mut().enumerate() {
            if w.endpoint == endpoint && w.fault == fault && w.end == u64::MAX {
                w.end = at.max(w.start);
                if w.recovered_at.is_none()
                    && let Some(a) = self.awaiting.get_mut(e)
                {
                    a.push(i as u32);
                }
            }
        }
    }

    /// The index of the last listed window in the report's order.
    fn last_listed(&self) -> Option<u32> {
        self.windows.iter().enumerate().max_by_key(|(_, w)| w.key()).map(|(i, _)| i as u32)
    }

    /// Drops index `i` from every list (its window is being replaced).
    fn forget(&mut self, i: u32) {
        self.open.retain(|&j| j != i);
        self.routing.retain(|&j| j != i);
        for list in self.undetected.iter_mut().chain(self.awaiting.iter_mut()) {
            list.retain(|&j| j != i);
        }
    }

    #[inline]
    pub(crate) fn finished(&mut self, at: u64, seq: u64, failed: bool) {
        if !self.tracking {
            return;
        }
        let mask = self.attempted.finish(seq);
        if failed && !self.open.is_empty() {
            let windows = &mut self.windows;
            self.open.retain(|&i| match windows.get_mut(i as usize) {
                Some(w) if w.end > at => {
                    if w.start <= at && mask & bit(usize::from(w.endpoint)) != 0 {
                        w.failed += 1;
                    }
                    true
                }
                _ => false,
            });
        }
    }

    /// Every window announced, listed or not.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The report rows of the listed windows, in the order the windows began
    /// (then endpoint and fault order). Windows are announced when the clock
    /// first passes their start, endpoint by endpoint, so the event order
    /// alone is not that.
    pub(crate) fn sections(&self, endpoint_names: &[String]) -> Vec<FaultWindowSection> {
        let mut order: Vec<&Window> = self.windows.iter().collect();
        order.sort_by_key(|w| w.key());
        order
            .into_iter()
            .map(|w| {
                let e = usize::from(w.endpoint);
                let fault = self.fault_names.get(e).and_then(|f| f.get(usize::from(w.fault)));
                FaultWindowSection {
                    endpoint: endpoint_names.get(e).cloned().unwrap_or_default(),
                    fault: fault.map_or_else(|| format!("fault #{}", w.fault), |f| f.0.to_string()),
                    rule: fault.and_then(|f| f.1.clone()),
                    start_ms: w.start,
                    end_ms: (w.end != u64::MAX).then_some(w.end),
                    detected_after_ms: w.detected_at.map(|t| t.saturating_sub(w.start)),
                    failed_requests: w.failed,
                    recovered_after_ms: w.recovered_at.map(|t| t.saturating_sub(w.end)),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_follow_requests_until_they_finish_in_any_order() {
        let mut a = Attempted::default();
        for seq in 0..4 {
            a.arrive(seq);
        }
        a.attempt(1, 0);
        a.attempt(1, 70);
        assert_eq!(a.finish(2), 0);
        assert_eq!(a.finish(0), 0);
        assert_eq!(a.finish(1), 1 | 1 << SHARED_BIT);
        // Finished, or never seen: untracked.
        assert_eq!(a.finish(1), 0);
        a.attempt(99, 3);
        assert_eq!(a.finish(99), 0);
        // Far-apart positions both kept.
        a.arrive(10);
        a.arrive(10 + 4096);
        a.attempt(10 + 4096, 2);
        assert_eq!((a.finish(10), a.finish(10 + 4096), a.finish(3)), (0, 1 << 2, 0));
    }

    fn names() -> Vec<String> {
        vec!["a".to_string(), "b".to_string()]
    }

    /// A fault every 10 ms: records are kept for the first
    /// [`MAX_LISTED_WINDOWS`] only, the rest are counted.
    #[test]
    fn windows_beyond_the_cap_are_counted_not_kept() {
        let mut w = FaultWindows::new(vec![vec!["outage"], vec!["hang"]]);
        let n = MAX_LISTED_WINDOWS as u64 * 5;
        for i in 0..n {
            w.arrived(i);
            w.window(0, 0, i * 10, i * 10 + 5);
            w.attempt_started(i * 10 + 1, i, 0, 1);
            w.attempt_finished(i * 10 + 2, 0, false);
            w.finished(i * 10 + 2, i, true);
        }
        assert_eq!(w.total(), n);
        assert_eq!(w.windows.len(), MAX_LISTED_WINDOWS, "records only for listed windows");
        assert!(w.open.len() <= MAX_LISTED_WINDOWS);
        assert!(w.undetected.iter().chain(&w.awaiting).all(|l| l.len() <= MAX_LISTED_WINDOWS));
        let rows = w.sections(&names());
        assert_eq!(rows.len(), MAX_LISTED_WINDOWS);
        assert_eq!(rows.first().map(|r| r.start_ms), Some(0));
        assert_eq!(rows.last().map(|r| r.start_ms), Some((MAX_LISTED_WINDOWS as u64 - 1) * 10));
        assert!(rows.iter().all(|r| r.failed_requests == 1), "listed windows are still tracked");
    }

    /// A live chaos rule: named when it starts, its window open until the
    /// rule is removed, then recovery is looked for.
    #[test]
    fn a_chaos_rule_window_is_closed_when_the_rule_goes() {
        let mut w = FaultWindows::new(vec![vec!["outage"], vec![]]);
        let f = w.add_fault(1, "status", "b-503");
        assert_eq!(f, 0);
        w.window(1, f, 100, u64::MAX);
        w.arrived(0);
        w.attempt_started(150, 0, 1, 1);
        w.attempt_finished(160, 1, false);
        w.steered_away(160, 1);
        w.finished(170, 0, true);
        w.attempt_finished(200, 1, true);
        w.close(1, f, 300);
        w.attempt_finished(350, 1, true);
        let rows = w.sections(&names());
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.fault.as_str(), r.rule.as_deref()), ("status", Some("b-503")));
        assert_eq!((r.start_ms, r.end_ms), (100, Some(300)));
        assert_eq!(r.detected_after_ms, Some(60));
        assert_eq!(r.failed_requests, 1);
        assert_eq!(r.recovered_after_ms, Some(50), "the first success after the rule went");
    }

    /// The list holds the first windows by start, whatever the announcement order.
    #[test]
    fn an_earlier_window_announced_late_replaces_the_last_listed_one() {
        let mut w = FaultWindows::new(vec![vec!["outage"], vec!["hang"]]);
        let max = MAX_LISTED_WINDOWS as u64;
        for i in 0..max {
            w.window(0, 0, 1000 + i * 10, 1005 + i * 10);
        }
        // Later than every listed window: counted only.
        w.window(1, 0, 1000 + max * 10, u64::MAX);
        // Earlier than the last listed one: takes its place.
        w.window(1, 0, 5, 500);
        assert_eq!((w.total(), w.windows.len()), (max + 2, MAX_LISTED_WINDOWS));
        // The replaced window left every list; the new one is in them.
        let replaced = (1000 + (max - 1) * 10, 0);
        let in_lists = |w: &FaultWindows, key: (u64, u16)| {
            let has = |l: &Vec<u32>| {
                l.iter().any(|&i| w.windows.get(i as usize).is_some_and(|x| (x.start, x.endpoint) == key))
            };
            has(&w.open) || w.undetected.iter().chain(&w.awaiting).any(has)
        };
        assert!(!in_lists(&w, replaced));
        assert!(in_lists(&w, (5, 1)));
        w.steered_away(6, 1);
        w.attempt_finished(600, 1, true);
        let rows = w.sections(&names());
        assert_eq!(rows.len(), MAX_LISTED_WINDOWS);
        let first = rows.first().cloned();
        assert_eq!(first.as_ref().map(|r| (r.endpoint.as_str(), r.start_ms)), Some(("b", 5)));
        assert_eq!(first.and_then(|r| r.recovered_after_ms.zip(r.detected_after_ms)), Some((100, 1)));
        assert_eq!(rows.last().map(|r| r.start_ms), Some(1000 + (max - 2) * 10));

        // Announced in reverse: still the first `MAX_LISTED_WINDOWS` by start.
        let mut w = FaultWindows::new(vec![vec!["outage"]]);
        for i in (0..max * 3).rev() {
            w.window(0, 0, i * 10, i * 10 + 5);
        }
        let rows = w.sections(&names()[..1]);
        assert_eq!((w.total(), rows.len()), (max * 3, MAX_LISTED_WINDOWS));
        assert!(rows.iter().enumerate().all(|(i, r)| r.start_ms == i as u64 * 10));
    }
}
