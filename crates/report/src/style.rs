//! The look shared by every HTML page windtunnel writes (report, what-if):
//! typography, layout, cards, tables and chart basics. Each page adds its
//! own rules after these.

/// Base CSS; pages append theirs.
pub(crate) const BASE_STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif;-webkit-font-smoothing:antialiased}
main{max-width:1080px;margin:0 auto;padding:32px 24px 56px}
.brand{font-size:12px;text-transform:uppercase;letter-spacing:.09em;color:var(--muted);font-weight:600}
h1{margin:2px 0 8px;font-size:30px;line-height:1.2;letter-spacing:-.01em;overflow-wrap:anywhere}
section{margin-top:40px}
h2{font-size:19px;margin:0 0 4px}
.note{margin:0 0 12px;color:var(--muted);font-size:14px}
.panel{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 12px 8px}
svg.chart{display:block;width:100%;height:auto;font-family:inherit}
svg text{fill:var(--muted);font-size:12px}
svg .grid{stroke:var(--grid)}
svg .base,svg .tick{stroke:var(--muted)}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;font-size:13px;padding:8px 4px 2px}
.key{white-space:nowrap}
.scroll{overflow-x:auto}
table{width:100%;border-collapse:separate;border-spacing:0;background:var(--card);border:1px solid var(--line);border-radius:10px;font-size:14px}
th,td{padding:8px 12px;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:last-child td{border-bottom:0}
footer{margin-top:48px;color:var(--muted);font-size:13px}
"#;
