//! `report.html`: one self-contained page (no network, no JavaScript, no font
//! files) that a reviewer can open from a CI artifact or attach to an issue.
//!
//! The page reads top-down the way the Markdown does: verdict, summary cards,
//! assertions and invariants, then the four charts SPEC asks for (traffic
//! share per endpoint with fault windows shaded, cumulative cost, latency
//! percentiles over time, latency distribution), then fault windows and
//! per-endpoint tables. Charts are inline SVG drawn by [`crate::chart`]; hover
//! details come from SVG `<title>` elements. Styles follow the reader's light
//! or dark preference through CSS variables. All user text is escaped, and
//! nothing varies between renders of the same report.

use crate::Report;
use crate::chart::{Chart, decimals, linear_ticks};
use crate::escape::xml;
use crate::markdown::more_windows;
use crate::numbers::{human_ms, int, usd};
use crate::schema::{Assertion, Bucket, FaultWindowSection, TimeSeries};
use crate::style::BASE_STYLE;
use std::fmt::Write;
use windtunnel_core::{Nanodollars, format_duration_ms};

/// Series colours: Tableau 10, readable on light and dark backgrounds and
/// distinguishable by most colour-blind readers.
const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/// Colours of the p50, p95 and p99 lines.
const PERCENTILE_COLOURS: [&str; 3] = ["#4e79a7", "#f28e2b", "#e15759"];

/// Invariant examples listed per invariant.
const HTML_EXAMPLES: usize = 5;

/// Fault windows listed in the table, and shaded one by one in each chart;
/// beyond this the table says how many more there are and the charts shade
/// bands of overlapping windows (at most one per pixel of width), so the
/// page stays small whatever the number of windows.
const HTML_WINDOWS: usize = 100;

const STYLE: &str = r#"
:root{--bg:#f6f7f9;--fg:#1b1f24;--muted:#5b6470;--card:#fff;--line:#e2e5e9;--grid:#eceef1;--soft:#f1f3f5;--pass:#1a7f37;--passbg:#dafbe1;--fail:#cf222e;--failbg:#ffebe9}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9ba5b0;--card:#161b22;--line:#2a3038;--grid:#21272f;--soft:#1c2129;--pass:#3fb950;--passbg:#12261a;--fail:#f85149;--failbg:#2d1517}}
code,.mono{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace;font-size:.88em}
code{background:var(--soft);padding:1px 6px;border-radius:4px;overflow-wrap:anywhere}
.meta{margin:0;color:var(--muted);display:flex;flex-wrap:wrap;gap:4px 20px}
.meta b{color:var(--fg);font-weight:600}
.verdict{margin:22px 0 18px;padding:12px 16px;border-radius:10px;font-weight:600;border:1px solid}
.verdict.pass{background:var(--passbg);color:var(--pass)}
.verdict.fail{background:var(--failbg);color:var(--fail)}
.verdict.none{background:var(--card);color:var(--muted);border-color:var(--line)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card .label{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);font-weight:600}
.card .value{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px;white-space:nowrap}
.card .sub{font-size:13px;color:var(--muted)}
svg .hatch{stroke:var(--fg);stroke-opacity:.45}
svg .shade{fill:var(--fg);fill-opacity:.07}
svg .marker{stroke-dasharray:4 3}
svg text.marker-label{fill:var(--fg)}
.key i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:6px;vertical-align:-1px}
.key i.fault{background:repeating-linear-gradient(45deg,var(--muted) 0 1.5px,transparent 1.5px 5px);outline:1px solid var(--line)}
.key i.line{height:3px;border-radius:2px;vertical-align:3px}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600}
.pill.pass{background:var(--passbg);color:var(--pass)}
.pill.fail{background:var(--failbg);color:var(--fail)}
.muted{color:var(--muted)}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:8px}
ul.examples{margin:0;padding-left:18px}
"#;

fn percent(n: u64, d: u64) -> String {
    if d == 0 { "—".to_string() } else { format!("{:.1}%", n as f64 * 100.0 / d as f64) }
}

fn duration(ms: Option<u64>, none: &str) -> String {
    ms.map_or_else(|| none.to_string(), human_ms)
}

/// `500 ms`, `2 s`, `1.5 s`.
fn ms_label(v: f64) -> String {
    if v >= 1000.0 {
        let s = v / 1000.0;
        format!("{s:.prec$} s", prec = if (s - s.round()).abs() < 1e-9 { 0 } else { 1 })
    } else {
        format!("{v:.0} ms")
    }
}

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Renders a report as one self-contained HTML page.
pub fn to_html(r: &Report) -> String {
    let mut s = String::with_capacity(96 * 1024);
    let title = xml(&r.scenario);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <title>{title} · windtunnel report</title>\n<style>{BASE_STYLE}{STYLE}</style>\n</head>\n<body>\n<main>\n"
    );
    header(&mut s, r);
    cards(&mut s, r);
    assertions(&mut s, r);
    invariants(&mut s, r);
    let ts = &r.timeseries;
    traffic_chart(&mut s, ts, &r.failover.windows);
    cost_chart(&mut s, ts, &r.failover.windows, r.cost.total_usd);
    latency_chart(&mut s, ts, &r.failover.windows);
    caching_chart(&mut s, ts, &r.failover.windows);
    distribution_chart(&mut s, r);
    windows_table(&mut s, r);
    endpoints_table(&mut s, r);
    outcomes(&mut s, r);
    let _ = write!(
        s,
        "<footer>windtunnel report · schema version {} · the same scenario, seed and binary render this page \
         byte for byte.</footer>\n</main>\n</body>\n</html>\n",
        r.schema_version
    );
    s
}

fn header(s: &mut String, r: &Report) {
    let _ = write!(
        s,
        "<header>\n<div class=\"brand\">windtunnel report</div>\n<h1>{}</h1>\n<p class=\"meta\">\
         <span>policy <code>{}</code></span><span>seed <b>{}</b></span>\
         <span><b>{}</b> requests over <b>{}</b></span></p>\n</header>\n",
        xml(&r.scenario),
        xml(&r.policy),
        r.seed,
        int(r.trace.requests),
        human_ms(r.trace.span_ms)
    );
    let n = r.assertions.len();
    let failed: Vec<&Assertion> = r.failed_assertions().collect();
    let plural = |n: usize| if n == 1 { "assertion" } else { "assertions" };
    let (class, text) = if n == 0 {
        ("none", "No assertions were evaluated for this run.".to_string())
    } else if failed.is_empty() {
        ("pass", format!("✓ All {n} {} passed", plural(n)))
    } else {
        let names: Vec<String> = failed.iter().map(|a| xml(&a.name)).collect();
        ("fail", format!("✗ {} of {n} {} failed: {}", failed.len(), plural(n), names.join(", ")))
    };
    let _ = writeln!(s, "<div class=\"verdict {class}\">{text}</div>");
}

fn cards(s: &mut String, r: &Report) {
    let o = &r.outcomes;
    let answered = o.succeeded + o.cached;
    let card = |s: &mut String, label: &str, value: &str, sub: &str| {
        let _ = write!(
            s,
            "<div class=\"card\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div>\
             <div class=\"sub\">{sub}</div></div>"
        );
    };
    s.push_str("<section class=\"cards\" style=\"margin-top:0\">");
    card(s, "Requests", &int(r.trace.requests), &format!("{} failed · {} rejected", int(o.failed), int(o.rejected)));
    card(s, "Success rate", &percent(answered, r.trace.requests), &format!("{} answered", int(answered)));
    card(s, "Cost", &usd(r.cost.total_usd), &format!("{} per success", usd(r.cost.per_success_usd)));
    card(
        s,
        "p95 latency",
        &format!("{} ms", int(r.latency_ms.p95)),
        &format!("p50 {} · p99 {} ms", int(r.latency_ms.p50), int(r.latency_ms.p99)),
    );
    card(s, "SLA violations", &int(r.sla.violations), &format!("{:.2}% of requests", r.sla.rate * 100.0));
    card(s, "Failovers", &int(r.failover.events), &format!("{} attempts", int(r.attempts.total)));
    s.push_str("</section>\n");
}

fn pill(passed: bool) -> &'static str {
    if passed { "<span class=\"pill pass\">pass</span>" } else { "<span class=\"pill fail\">fail</span>" }
}

fn assertions(s: &mut String, r: &Report) {
    if r.assertions.is_empty() {
        return;
    }
    s.push_str(
        "<section><h2>Assertions</h2><p class=\"note\">The scenario's [assert] table against this run's figures.</p>\
         <div class=\"scroll\"><table><thead><tr><th></th><th>assertion</th><th class=\"num\">actual</th>\
         <th class=\"num\">limit</th></tr></thead><tbody>",
    );
    for a in &r.assertions {
        let _ = write!(
            s,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            pill(a.passed),
            xml(&a.name),
            xml(&a.actual.to_string()),
            xml(&a.limit.to_string())
        );
    }
    s.push_str("</tbody></table></div></section>\n");
}

fn invariants(s: &mut String, r: &Report) {
    s.push_str("<section><h2>Invariants</h2>");
    if r.invariants.is_empty() {
        s.push_str("<p class=\"note\">Not checked in this run.</p></section>\n");
        return;
    }
    s.push_str(
        "<p class=\"note\">Failover correctness, checked on the event log alone.</p><div class=\"scroll\"><table>\
         <thead><tr><th></th><th>invariant</th><th class=\"num\">violations</th><th>first examples</th></tr></thead>\
         <tbody>",
    );
    for i in &r.invariants {
        let _ = write!(
            s,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td>",
            pill(i.violations == 0),
            xml(&i.name),
            int(i.violations)
        );
        if i.examples.is_empty() {
            s.push_str("<span class=\"muted\">—</span>");
        } else {
            s.push_str("<ul class=\"examples\">");
            for e in i.examples.iter().take(HTML_EXAMPLES) {
                let on = e.endpoint.as_deref().map(|n| format!(" on <code>{}</code>", xml(n))).unwrap_or_default();
                let _ = write!(
                    s,
                    "<li>request <code>{}</code> at {} ms{on}: {}</li>",
                    xml(&e.request),
                    int(e.at_ms),
                    xml(&e.detail)
                );
            }
            s.push_str("</ul>");
        }
        s.push_str("</td></tr>");
    }
    s.push_str("</tbody></table></div></section>\n");
}

/// The end of the charted time range.
fn span_ms(ts: &TimeSeries) -> f64 {
    (ts.buckets.len() as u64 * ts.bucket_ms).max(1) as f64
}

fn window_title(w: &FaultWindowSection) -> String {
    let end = w.end_ms.map_or_else(|| "end of run".to_string(), format_duration_ms);
    format!(
        "{} on {}: {} – {}; detected after {}; {} failed requests; recovered after {}",
        w.fault,
        w.endpoint,
        format_duration_ms(w.start_ms),
        end,
        duration(w.detected_after_ms, "never"),
        w.failed_requests,
        if w.end_ms.is_none() { "—".to_string() } else { duration(w.recovered_after_ms, "never") }
    )
}

/// Hatched rectangles over the fault windows; `id` names this chart's pattern.
fn shade_windows(c: &mut Chart, windows: &[FaultWindowSection], span: f64, id: &str) {
    if windows.is_empty() {
        return;
    }
    let mut s = format!(
        "<defs><pattern id=\"{id}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><line class=\"hatch\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" \
         stroke-width=\"1.5\"/></pattern></defs><g class=\"windows\">"
    );
    let mut band = |title: &str, x0: f64, x1: f64| {
        let _ = write!(
            s,
            "<g><title>{}</title><rect class=\"shade\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>\
             <rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"url(#{id})\"/></g>",
            xml(title),
            c.top(),
            (x1 - x0).max(1.0),
            c.bottom() - c.top(),
            c.top(),
            (x1 - x0).max(1.0),
            c.bottom() - c.top(),
        );
    };
    // Each window's pixels, in start order.
    let spans = windows.iter().filter(|w| (w.start_ms as f64) < span).map(|w| {
        let end = w.end_ms.map_or(span, |e| (e as f64).min(span));
        (w, c.px(w.start_ms as f64), c.px(end))
    });
    if windows.len() <= HTML_WINDOWS {
        for (w, x0, x1) in spans {
            band(&window_title(w), x0, x1);
        }
    } else {
        // Many windows: one band per run of windows whose pixels touch.
        let mut open: Option<(f64, f64, u64, u64, Option<u64>)> = None;
        let flush = |b: (f64, f64, u64, u64, Option<u64>), band: &mut dyn FnMut(&str, f64, f64)| {
            let (x0, x1, n, start, end) = b;
            let end = end.map_or_else(|| "end of run".to_string(), format_duration_ms);
            let title = if n == 1 {
                format!("fault window: {} – {end}", format_duration_ms(start))
            } else {
                format!("{} fault windows: {} – {end}", int(n), format_duration_ms(start))
            };
            band(&title, x0, x1);
        };
        for (w, x0, x1) in spans {
            let x1 = x1.max(x0 + 1.0);
            open = match open {
                Some((b0, b1, n, start, end)) if x0 <= b1 => {
                    let end = match (end, w.end_ms) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                    Some((b0, b1.max(x1), n + 1, start, end))
                }
                other => {
                    if let Some(b) = other {
                        flush(b, &mut band);
                    }
                    Some((x0, x1, 1, w.start_ms, w.end_ms))
                }
            };
        }
        if let Some(b) = open {
            flush(b, &mut band);
        }
    }
    s.push_str("</g>");
    c.push(&s);
}

fn fault_key(windows: &[FaultWindowSection]) -> &'static str {
    if windows.is_empty() { "" } else { "<span class=\"key\"><i class=\"fault\"></i>fault window</span>" }
}

fn chart_section(s: &mut String, title: &str, note: &str, svg: &str, legend: &str) {
    let _ = write!(s, "<section><h2>{title}</h2><p class=\"note\">{note}</p><div class=\"panel\">{svg}");
    if !legend.is_empty() {
        let _ = write!(s, "<div class=\"legend\">{legend}</div>");
    }
    s.push_str("</div></section>\n");
}

fn empty_chart(s: &mut String, title: &str) {
    let _ = writeln!(
        s,
        "<section><h2>{title}</h2><p class=\"note\">No data in this run.</p><svg class=\"chart empty\" \
         viewBox=\"0 0 960 40\" role=\"img\" aria-label=\"no data\"></svg></section>"
    );
}

fn traffic_chart(s: &mut String, ts: &TimeSeries, windows: &[FaultWindowSection]) {
    let title = "Traffic share by endpoint";
    if ts.buckets.is_empty() {
        empty_chart(s, title);
        return;
    }
    let span = span_ms(ts);
    let mut c = Chart::new((0.0, span), (0.0, 100.0), false);
    c.y_axis(&[0.0, 25.0, 50.0, 75.0, 100.0], |v| format!("{v:.0}%"), "share of attempts");
    let totals: Vec<u64> = ts.buckets.iter().map(|b| b.attempts.iter().sum()).collect();
    let all: u64 = totals.iter().sum();
    let mut below = vec![0u64; ts.buckets.len()];
    let mut legend = String::new();
    let mut paths = String::from("<g class=\"areas\">");
    for (k, name) in ts.endpoints.iter().enumerate() {
        let count: u64 = ts.buckets.iter().map(|b| b.attempts.get(k).copied().unwrap_or(0)).sum();
        let _ = write!(
            legend,
            "<span class=\"key\"><i style=\"background:{}\"></i>{} <span class=\"muted\">{}</span></span>",
            colour(k),
            xml(name),
            percent(count, all)
        );
        if count == 0 {
            for (b, l) in ts.buckets.iter().zip(&mut below) {
                *l += b.attempts.get(k).copied().unwrap_or(0);
            }
            continue;
        }
        let share = |n: u64, total: u64| if total == 0 { 0.0 } else { n as f64 * 100.0 / total as f64 };
        let mut upper = Vec::with_capacity(ts.buckets.len());
        let mut lower = Vec::with_capacity(ts.buckets.len());
        for (i, b) in ts.buckets.iter().enumerate() {
            let n = b.attempts.get(k).copied().unwrap_or(0);
            lower.push(c.py(share(below[i], totals[i])));
            below[i] += n;
            upper.push(c.py(share(below[i], totals[i])));
        }
        let x = |i: usize| c.px((i as u64 * ts.bucket_ms) as f64);
        let mut d = format!("M{:.1},{:.1}", x(0), upper[0]);
        for (i, y) in upper.iter().enumerate() {
            let _ = write!(d, "V{y:.1}H{:.1}", x(i + 1));
        }
        for (i, y) in lower.iter().enumerate().rev() {
            let _ = write!(d, "V{y:.1}H{:.1}", x(i));
        }
        d.push('Z');
        let _ = write!(
            paths,
            "<path d=\"{d}\" fill=\"{}\" fill-opacity=\"0.9\"><title>{}: {} attempts ({})</title></path>",
            colour(k),
            xml(name),
            int(count),
            percent(count, all)
        );
    }
    paths.push_str("</g>");
    c.push(&paths);
    shade_windows(&mut c, windows, span, "hatch-traffic");
    c.time_axis(span);
    legend.push_str(fault_key(windows));
    let note = format!(
        "Share of attempts started in each {} interval, per endpoint. Hatched: fault windows (hover for details).",
        human_ms(ts.bucket_ms)
    );
    chart_section(s, title, &note, &c.finish("traffic", "traffic share per endpoint over time"), &legend);
}

fn cost_chart(s: &mut String, ts: &TimeSeries, windows: &[FaultWindowSection], total: Nanodollars) {
    let title = "Cumulative cost";
    if ts.buckets.is_empty() {
        empty_chart(s, title);
        return;
    }
    let span = span_ms(ts);
    let (top, ticks) = linear_ticks(total.as_usd(), 5);
    let mut c = Chart::new((0.0, span), (0.0, top), false);
    let d = decimals(ticks.get(1).copied().unwrap_or(1.0));
    c.y_axis(&ticks, |v| format!("${v:.d$}"), "USD");
    shade_windows(&mut c, windows, span, "hatch-cost");
    let mut cum = Nanodollars::ZERO;
    let mut line = format!("M{:.1},{:.1}", c.px(0.0), c.py(0.0));
    for (i, b) in ts.buckets.iter().enumerate() {
        cum += b.cost_usd;
        let _ = write!(line, "L{:.1},{:.1}", c.px(((i as u64 + 1) * ts.bucket_ms) as f64), c.py(cum.as_usd()));
    }
    let area = format!("{line}L{:.1},{:.1}L{:.1},{:.1}Z", c.px(span), c.py(0.0), c.px(0.0), c.py(0.0));
    c.push(&format!(
        "<path d=\"{area}\" fill=\"{0}\" fill-opacity=\"0.15\"/><path d=\"{line}\" fill=\"none\" stroke=\"{0}\" \
         stroke-width=\"2\" stroke-linejoin=\"round\"><title>total {1}</title></path>",
        PALETTE[0],
        usd(total)
    ));
    c.time_axis(span);
    let legend = format!(
        "<span class=\"key\"><i class=\"line\" style=\"background:{}\"></i>cost billed so far ({} in all)</span>{}",
        PALETTE[0],
        usd(total),
        fault_key(windows)
    );
    let note = "Money billed up to each moment, failed attempts included (integer nano-dollars, shown in USD).";
    chart_section(s, title, note, &c.finish("cost", "cumulative cost over time"), &legend);
}

/// Caching over time, when the run had any: the share of requests served
/// from the response cache and the share of billed input tokens that a
/// prompt cache held, per bucket.
fn caching_chart(s: &mut String, ts: &TimeSeries, windows: &[FaultWindowSection]) {
    if !ts.buckets.iter().any(|b| b.cache_hits > 0 || b.cached_input_tokens > 0) {
        return;
    }
    let span = span_ms(ts);
    let (top, ticks) = linear_ticks(100.0, 5);
    let mut c = Chart::new((0.0, span), (0.0, top), false);
    c.y_axis(&ticks, |v| format!("{v:.0}%"), "share");
    shade_windows(&mut c, windows, span, "hatch-cost");
    fn pct(n: u64, d: u64) -> Option<f64> {
        if d == 0 { None } else { Some(n as f64 * 100.0 / d as f64) }
    }
    type Share = fn(&Bucket) -> Option<f64>;
    let series: [(&str, Share); 2] = [
        ("requests served from the response cache", |b| pct(b.cache_hits, b.cache_hits + b.succeeded + b.failed)),
        ("input tokens billed as cached", |b| pct(b.cached_input_tokens, b.input_tokens)),
    ];
    let mut legend = String::new();
    for (k, (name, value)) in series.iter().enumerate() {
        let mut line = String::new();
        for (i, b) in ts.buckets.iter().enumerate() {
            let Some(v) = value(b) else { continue };
            let x = c.px(((i as u64 * 2 + 1) * ts.bucket_ms) as f64 / 2.0);
            let _ = write!(line, "{}{x:.1},{:.1}", if line.is_empty() { "M" } else { "L" }, c.py(v));
        }
        if line.is_empty() {
            continue;
        }
        c.push(&format!(
            "<path d=\"{line}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\"><title>{name}</title></path>",
            PALETTE[k]
        ));
        let _ = write!(
            legend,
            "<span class=\"key\"><i class=\"line\" style=\"background:{}\"></i>{name}</span>",
            PALETTE[k]
        );
    }
    c.time_axis(span);
    legend.push_str(fault_key(windows));
    let note = "Per time bucket: the share of arriving requests the gateway's response cache answered, and the share of \
                billed input tokens that endpoints' prompt caches held (billed at the cached-input price).";
    chart_section(s, "Caching over time", note, &c.finish("caching", "caching over time"), &legend);
}

fn latency_chart(s: &mut String, ts: &TimeSeries, windows: &[FaultWindowSection]) {
    let title = "Latency over time";
    let max = ts.buckets.iter().filter_map(|b| b.latency_ms.map(|l| l.p99)).max();
    let Some(max) = max else {
        empty_chart(s, title);
        return;
    };
    let span = span_ms(ts);
    let (top, ticks) = linear_ticks(max as f64, 5);
    let mut c = Chart::new((0.0, span), (0.0, top), false);
    let (title_y, label): (&str, Box<dyn Fn(f64) -> String>) = if top >= 10_000.0 {
        let d = decimals(ticks.get(1).copied().unwrap_or(1000.0) / 1000.0);
        ("latency (s)", Box::new(move |v| format!("{:.d$}", v / 1000.0)))
    } else {
        ("latency (ms)", Box::new(|v| int(v as u64)))
    };
    c.y_axis(&ticks, label, title_y);
    shade_windows(&mut c, windows, span, "hatch-latency");
    let mut lines = String::new();
    let names = ["p50", "p95", "p99"];
    for (k, name) in names.iter().enumerate() {
        let mut d = String::new();
        let mut run = 0;
        let mut dots = String::new();
        for (i, b) in ts.buckets.iter().enumerate() {
            let Some(l) = b.latency_ms else {
                run = 0;
                continue;
            };
            let v = [l.p50, l.p95, l.p99][k];
            let x = c.px((i as u64 * ts.bucket_ms) as f64 + ts.bucket_ms as f64 / 2.0);
            let y = c.py(v as f64);
            let lone = ts.buckets.get(i + 1).is_none_or(|n| n.latency_ms.is_none());
            if run == 0 && lone {
                let _ = write!(dots, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2\"/>");
            }
            let _ = write!(d, "{}{x:.1},{y:.1}", if run == 0 { 'M' } else { 'L' });
            run += 1;
        }
        let _ = write!(
            lines,
            "<g fill=\"{0}\"><path d=\"{d}\" fill=\"none\" stroke=\"{0}\" stroke-width=\"{1}\" \
             stroke-linejoin=\"round\"><title>{name}</title></path>{dots}</g>",
            PERCENTILE_COLOURS[k],
            if k == 0 { "2" } else { "1.6" }
        );
    }
    c.push(&lines);
    c.time_axis(span);
    let mut legend = String::new();
    for (k, name) in names.iter().enumerate() {
        let _ = write!(
            legend,
            "<span class=\"key\"><i class=\"line\" style=\"background:{}\"></i>{name}</span>",
            PERCENTILE_COLOURS[k]
        );
    }
    legend.push_str(fault_key(windows));
    let note =
        format!("End-to-end latency of succeeded requests, by arrival time, per {} interval.", human_ms(ts.bucket_ms));
    chart_section(s, title, &note, &c.finish("latency", "latency percentiles over time"), &legend);
}

/// Ticks of a log axis over `[lo, hi]`: 1, 2, 5 times powers of ten, or
/// powers of ten alone when that would be too many.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut all = Vec::new();
    let mut p = 1.0;
    while p <= hi * 10.0 && p < 1e12 {
        all.extend([p, 2.0 * p, 5.0 * p]);
        p *= 10.0;
    }
    let within: Vec<f64> = all.into_iter().filter(|&t| t >= lo && t <= hi).collect();
    if within.len() > 10 { within.into_iter().filter(|t| t.log10().fract().abs() < 1e-9).collect() } else { within }
}

fn distribution_chart(s: &mut String, r: &Report) {
    let title = "Latency distribution";
    let bins = &r.timeseries.latency_histogram;
    let (Some(first), Some(last)) = (bins.first(), bins.last()) else {
        empty_chart(s, title);
        return;
    };
    let lo = (first.lo_ms.max(1)) as f64;
    let hi = (last.hi_ms as f64).max(lo * 1.5);
    let max = bins.iter().map(|b| b.count).max().unwrap_or(1);
    let total: u64 = bins.iter().map(|b| b.count).sum();
    let (top, ticks) = if max < 5 { (5.0, (0..=5).map(f64::from).collect()) } else { linear_ticks(max as f64, 5) };
    let mut c = Chart::new((lo, hi), (0.0, top), true);
    c.y_axis(&ticks, |v| int(v as u64), "requests");
    let mut bars = format!("<g fill=\"{}\">", PALETTE[0]);
    for b in bins {
        if b.count == 0 {
            continue;
        }
        let (x0, x1) = (c.px((b.lo_ms.max(1)) as f64), c.px(b.hi_ms as f64));
        let y = c.py(b.count as f64);
        let _ = write!(
            bars,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}–{} ms: {} requests ({})\
             </title></rect>",
            x0 + 0.5,
            (x1 - x0 - 1.0).max(1.0),
            c.bottom() - y,
            int(b.lo_ms),
            int(b.hi_ms),
            int(b.count),
            percent(b.count, total)
        );
    }
    bars.push_str("</g>");
    c.push(&bars);
    let l = &r.latency_ms;
    let mut marks = String::new();
    for (k, (name, v)) in [("p50", l.p50), ("p95", l.p95), ("p99", l.p99)].into_iter().enumerate() {
        let x = c.px(v as f64);
        let _ = write!(
            marks,
            "<line class=\"marker\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{}\"/>\
             <text class=\"marker-label\" x=\"{:.1}\" y=\"{:.1}\">{name} {} ms</text>",
            c.top(),
            c.bottom(),
            PERCENTILE_COLOURS[k],
            x + 4.0,
            c.top() + 12.0 + 14.0 * k as f64,
            int(v)
        );
    }
    c.push(&marks);
    c.x_axis(&log_ticks(lo, hi), ms_label, "end-to-end latency (log scale)");
    let note = "Succeeded requests by end-to-end latency, in bins about 26% wide; dashed lines mark the percentiles.";
    chart_section(s, title, note, &c.finish("distribution", "latency distribution histogram"), "");
}

fn windows_table(s: &mut String, r: &Report) {
    let windows = &r.failover.windows;
    s.push_str("<section><h2>Fault windows</h2>");
    if windows.is_empty() {
        s.push_str("<p class=\"note\">No fault was active in this run.</p></section>\n");
        return;
    }
    s.push_str(
        "<p class=\"note\">Detected: first failover away from the endpoint, its breaker opening, or the policy routing \
         around it after the start. Failed: requests that ended failed or rejected inside the window after trying \
         the endpoint. Recovered: first success on the endpoint after the end.</p><div class=\"scroll\"><table>\
         <thead><tr><th>endpoint</th><th>fault</th><th>window</th><th class=\"num\">detected after</th>\
         <th class=\"num\">failed requests</th><th class=\"num\">recovered after</th></tr></thead><tbody>",
    );
    for w in windows.iter().take(HTML_WINDOWS) {
        let end = w.end_ms.map_or_else(|| "end of run".to_string(), format_duration_ms);
        let recovered = if w.end_ms.is_none() { "—".to_string() } else { duration(w.recovered_after_ms, "never") };
        let _ = write!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td>{} – {}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            xml(&w.endpoint),
            xml(&w.fault),
            format_duration_ms(w.start_ms),
            end,
            duration(w.detected_after_ms, "never"),
            int(w.failed_requests),
            recovered
        );
    }
    s.push_str("</tbody></table></div>");
    if let Some(more) = more_windows(r, HTML_WINDOWS) {
        let _ = write!(s, "<p class=\"note\">{}</p>", xml(&more));
    }
    s.push_str("</section>\n");
}

fn endpoints_table(s: &mut String, r: &Report) {
    s.push_str(
        "<section><h2>Endpoints</h2><div class=\"scroll\"><table><thead><tr><th>endpoint</th>\
         <th class=\"num\">attempts</th><th class=\"num\">share</th><th class=\"num\">succeeded</th>\
         <th>errors</th><th class=\"num\">cost</th></tr></thead><tbody>",
    );
    // Scenario order (the charts' colours), then any name only the maps know.
    let mut names: Vec<&String> = r.timeseries.endpoints.iter().collect();
    names.extend(r.attempts.by_endpoint.keys().filter(|n| !r.timeseries.endpoints.contains(n)));
    for (k, name) in names.into_iter().enumerate() {
        let a = r.attempts.by_endpoint.get(name);
        let attempts = a.map_or(0, |a| a.attempts);
        let succeeded = a.map_or(0, |a| a.succeeded);
        let errors: Vec<String> =
            a.map(|a| a.errors.iter().map(|(k, n)| format!("{} {}", xml(k), int(*n))).collect()).unwrap_or_default();
        let cost = r.cost.by_endpoint.get(name).copied().unwrap_or_default();
        let _ = write!(
            s,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span><code>{}</code></td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>\
             <td class=\"num\">{}</td></tr>",
            colour(k),
            xml(name),
            int(attempts),
            percent(attempts, r.attempts.total),
            int(succeeded),
            if errors.is_empty() { "<span class=\"muted\">—</span>".to_string() } else { errors.join(", ") },
            usd(cost)
        );
    }
    s.push_str("</tbody></table></div></section>\n");
}

fn outcomes(s: &mut String, r: &Report) {
    let o = &r.outcomes;
    let n = r.trace.requests;
    s.push_str(
        "<section><h2>Outcomes</h2><div class=\"scroll\"><table><thead><tr><th>outcome</th>\
         <th class=\"num\">requests</th><th class=\"num\">share</th></tr></thead><tbody>",
    );
    for (name, v) in [("succeeded", o.succeeded), ("failed", o.failed), ("rejected", o.rejected), ("cached", o.cached)]
    {
        let _ = write!(
            s,
            "<tr><td>{name}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            int(v),
            percent(v, n)
        );
    }
    for (reason, v) in &o.by_reason {
        let _ = write!(
            s,
            "<tr><td class=\"muted\">&nbsp;&nbsp;↳ {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            xml(reason),
            int(*v),
            percent(*v, n)
        );
    }
    s.push_str("</tbody></table></div>");
    let l = &r.latency_ms;
    // `None`: no streamed request succeeded, so there is nothing to show.
    let ttft = match &r.ttft_ms {
        None => String::new(),
        Some(t) => format!(
            "<tr><td>time to first token, streams (ms)</td><td class=\"num\">{}</td><td class=\"num\">—</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">—</td></tr>",
            int(t.p50),
            int(t.p95),
            int(t.p99)
        ),
    };
    let _ = write!(
        s,
        "<h2 style=\"margin-top:28px\">Latency and SLA</h2><div class=\"scroll\"><table><thead><tr><th></th>\
         <th class=\"num\">p50</th><th class=\"num\">p90</th><th class=\"num\">p95</th><th class=\"num\">p99</th>\
         <th class=\"num\">max</th></tr></thead><tbody><tr><td>end to end (ms)</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\
         {}</tbody></table></div>",
        int(l.p50),
        int(l.p90),
        int(l.p95),
        int(l.p99),
        int(l.max),
        ttft
    );
    if !r.sla.by_class.is_empty() {
        s.push_str(
            "<div class=\"scroll\" style=\"margin-top:12px\"><table><thead><tr><th>class</th>\
             <th class=\"num\">requests</th><th class=\"num\">SLA violations</th><th class=\"num\">rate</th></tr>\
             </thead><tbody>",
        );
        for (class, v) in &r.sla.by_class {
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                xml(class),
                int(v.requests),
                int(v.violations),
                percent(v.violations, v.requests)
            );
        }
        s.push_str("</tbody></table></div>");
    }
    let _ = writeln!(
        s,
        "<p class=\"note\" style=\"margin-top:12px\">Policy errors: {}. Mean quality of answers: {:.3}. \
         Wasted on failed attempts: {}.</p></section>",
        int(r.policy_errors),
        r.quality.mean,
        usd(r.cost.wasted_usd)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_read_well() {
        assert_eq!(ms_label(500.0), "500 ms");
        assert_eq!(ms_label(2000.0), "2 s");
        assert_eq!(log_ticks(90.0, 6000.0), vec![100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0]);
        assert_eq!(log_ticks(1.0, 1e7), vec![1.0, 10.0, 100.0, 1000.0, 1e4, 1e5, 1e6, 1e7]);
    }
}
