//! Inline SVG charts for the HTML report, drawn here so the page needs no
//! JavaScript, no network and no font files. A [`Chart`] is a plot frame
//! with scales and axes; the series are drawn by `html.rs` through its `px`,
//! `py` and `push`. Axes get "nice" ticks (1, 2 or 5 times a power of ten, in
//! the unit the range reads best in), so labels are round numbers.
//!
//! Everything is formatted with fixed decimals, so the same report renders to
//! the same bytes.

use crate::escape::xml;
use std::fmt::Write;

/// The viewBox: the page scales it to its width; text stays legible down to
/// about half of it.
pub(crate) const WIDTH: f64 = 960.0;
/// Height of a chart.
pub(crate) const HEIGHT: f64 = 280.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 46.0;

/// A nice step: the smallest of 1, 2 or 5 times a power of ten that is at least `raw`.
pub(crate) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mut p = 1e-9;
    loop {
        for m in [1.0, 2.0, 5.0] {
            if m * p >= raw * (1.0 - 1e-9) {
                return m * p;
            }
        }
        p *= 10.0;
        if p > 1e18 {
            return p;
        }
    }
}

/// Decimals needed to print multiples of `step` exactly.
pub(crate) fn decimals(step: f64) -> usize {
    let mut d = 0;
    let mut s = step;
    while d < 9 && (s - s.round()).abs() > 1e-6 * s.max(1e-9) {
        s *= 10.0;
        d += 1;
    }
    d
}

/// A linear axis from 0 to a round top at or above `max`, with about `target` ticks.
pub(crate) fn linear_ticks(max: f64, target: usize) -> (f64, Vec<f64>) {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let step = nice_step(max / target as f64);
    let n = (max / step - 1e-9).ceil().max(1.0) as usize;
    let ticks = (0..=n).map(|i| i as f64 * step).collect();
    (n as f64 * step, ticks)
}

/// A time axis over `[0, span_ms]`: the unit it reads best in, its divisor, and ticks in ms.
pub(crate) fn time_ticks(span_ms: f64) -> (&'static str, f64, Vec<f64>) {
    let (unit, div) = if span_ms <= 180_000.0 {
        ("s", 1000.0)
    } else if span_ms <= 3.0 * 3_600_000.0 {
        ("min", 60_000.0)
    } else {
        ("h", 3_600_000.0)
    };
    let span = span_ms / div;
    // Steps that divide their parent unit (a minute, an hour, a day).
    let steps: &[f64] = match unit {
        "s" => &[0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0],
        "min" => &[1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0],
        _ => &[1.0, 2.0, 3.0, 4.0, 6.0, 12.0, 24.0, 48.0, 72.0, 168.0, 336.0, 720.0],
    };
    let step = steps.iter().copied().find(|&s| span / s <= 10.0).unwrap_or_else(|| nice_step(span / 8.0));
    let n = (span / step + 1e-9).floor() as usize;
    (unit, div, (0..=n).map(|i| i as f64 * step * div).collect())
}

/// One plot: a frame with x and y scales, collecting SVG elements.
#[derive(Debug)]
pub(crate) struct Chart {
    body: String,
    x: (f64, f64),
    y: (f64, f64),
    log_x: bool,
}

impl Chart {
    /// A frame for `x` in `[x0, x1]` and `y` in `[y0, y1]`; `log_x` for a log10 x scale (x0 > 0).
    pub(crate) fn new(x: (f64, f64), y: (f64, f64), log_x: bool) -> Chart {
        let fix = |(a, b): (f64, f64)| if b > a { (a, b) } else { (a, a + 1.0) };
        let x = if log_x { (x.0.max(1e-3).log10(), x.1.max(1e-3).log10()) } else { x };
        Chart { body: String::new(), x: fix(x), y: fix(y), log_x }
    }

    /// The top of the plot area.
    pub(crate) fn top(&self) -> f64 {
        TOP
    }

    /// The bottom of the plot area.
    pub(crate) fn bottom(&self) -> f64 {
        HEIGHT - BOTTOM
    }

    /// x in pixels, clamped to the frame.
    pub(crate) fn px(&self, x: f64) -> f64 {
        let x = if self.log_x { x.max(1e-3).log10() } else { x };
        let t = ((x - self.x.0) / (self.x.1 - self.x.0)).clamp(0.0, 1.0);
        LEFT + t * (WIDTH - LEFT - RIGHT)
    }

    /// y in pixels, clamped to the frame.
    pub(crate) fn py(&self, y: f64) -> f64 {
        let t = ((y - self.y.0) / (self.y.1 - self.y.0)).clamp(0.0, 1.0);
        HEIGHT - BOTTOM - t * (HEIGHT - TOP - BOTTOM)
    }

    /// Appends raw SVG.
    pub(crate) fn push(&mut self, svg: &str) {
        self.body.push_str(svg);
    }

    /// Horizontal grid lines and labels at `ticks`, and the axis title.
    pub(crate) fn y_axis(&mut self, ticks: &[f64], label: impl Fn(f64) -> String, title: &str) {
        let mut s = String::from("<g class=\"axis y\">");
        for &t in ticks {
            let y = self.py(t);
            let _ = write!(
                s,
                "<line class=\"grid\" x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT,
                WIDTH - RIGHT,
                LEFT - 8.0,
                y + 4.0,
                xml(&label(t))
            );
        }
        let _ = write!(
            s,
            "<text class=\"title\" transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text></g>",
            (TOP + HEIGHT - BOTTOM) / 2.0,
            xml(title)
        );
        self.body.push_str(&s);
    }

    /// Tick marks and labels along the bottom at `ticks`, and the axis title.
    pub(crate) fn x_axis(&mut self, ticks: &[f64], label: impl Fn(f64) -> String, title: &str) {
        let bottom = HEIGHT - BOTTOM;
        let mut s = format!(
            "<g class=\"axis x\"><line class=\"base\" x1=\"{LEFT:.1}\" y1=\"{bottom:.1}\" x2=\"{:.1}\" y2=\"{bottom:.1}\"/>",
            WIDTH - RIGHT
        );
        for &t in ticks {
            let x = self.px(t);
            let _ = write!(
                s,
                "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{bottom:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                bottom + 5.0,
                bottom + 19.0,
                xml(&label(t))
            );
        }
        let _ = write!(
            s,
            "<text class=\"title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
            (LEFT + WIDTH - RIGHT) / 2.0,
            HEIGHT - 6.0,
            xml(title)
        );
        self.body.push_str(&s);
    }

    /// The time axis for `[0, span_ms]`.
    pub(crate) fn time_axis(&mut self, span_ms: f64) {
        let (unit, div, ticks) = time_ticks(span_ms);
        let step = ticks.get(1).map_or(1.0, |t| t / div);
        let d = decimals(step);
        self.x_axis(&ticks, |t| format!("{:.*}", d, t / div), &format!("time ({unit})"));
    }

    /// The finished `<svg>` element; `label` is its accessible name.
    pub(crate) fn finish(self, class: &str, label: &str) -> String {
        format!(
            "<svg class=\"chart {class}\" viewBox=\"0 0 {WIDTH:.0} {HEIGHT:.0}\" role=\"img\" aria-label=\"{}\">{}</svg>",
            xml(label),
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_five() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(180.0), 200.0);
        assert_eq!(decimals(0.05), 2);
        assert_eq!(decimals(20.0), 0);
    }

    #[test]
    fn linear_axis_tops_out_on_a_round_number() {
        let (top, ticks) = linear_ticks(1.59, 5);
        assert_eq!(ticks, [0.0, 0.5, 1.0, 1.5, 2.0]);
        assert_eq!(top, 2.0);
        let (top, ticks) = linear_ticks(1.59, 8);
        assert_eq!((top, ticks.len()), (1.6, 9));
        let (top, ticks) = linear_ticks(2000.0, 5);
        assert_eq!((top, ticks.len()), (2000.0, 5));
    }

    #[test]
    fn time_axis_picks_a_readable_unit() {
        let (unit, _, ticks) = time_ticks(60_000.0);
        assert_eq!(unit, "s");
        assert_eq!(ticks[1], 10_000.0);
        let (unit, _, ticks) = time_ticks(3_600_000.0);
        assert_eq!(unit, "min");
        assert_eq!(ticks[1], 600_000.0);
        let (unit, _, ticks) = time_ticks(86_400_000.0);
        assert_eq!(unit, "h");
        assert_eq!(ticks[1], 3.0 * 3_600_000.0);
    }
}
