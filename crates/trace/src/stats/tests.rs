use super::*;

fn req(seq: u64, at_ms: u64, input: u32, output: u32) -> Request {
    Request::new(seq, at_ms, input, output)
}

#[test]
fn empty_stats_are_zero() {
    let s = TraceStats::new().summary();
    assert_eq!((s.requests, s.span_ms, s.rate_per_min.peak), (0, 0, 0));
    assert_eq!(s.rate_per_min.mean, 0.0);
    assert!(s.by_class.is_empty());
}

#[test]
fn rates_come_from_calendar_minutes() {
    let mut stats = TraceStats::new();
    // Minute 0: 3 requests; minute 1: none; minute 2: 5 requests.
    let times = [0, 10_000, 59_999, 120_000, 120_001, 150_000, 170_000, 179_999];
    for (i, t) in times.iter().enumerate() {
        stats.record(&req(i as u64, *t, 10, 10));
    }
    let s = stats.summary();
    assert_eq!((s.requests, s.span_ms), (8, 179_999));
    assert_eq!(s.rate_per_min.peak, 5);
    assert!((s.rate_per_min.mean - 8.0 / 3.0).abs() < 1e-9);
}

#[test]
fn token_percentiles_and_breakdowns() {
    let mut stats = TraceStats::new();
    for i in 0..1000u32 {
        let mut r = req(u64::from(i), u64::from(i), i + 1, 2 * (i + 1));
        if i % 4 == 0 {
            r.class = "batch".into();
            r.model = Some("gpt-4o".into());
            r.stream = true;
        }
        if i % 10 == 0 {
            r.lang = Some("zh".into());
        }
        stats.record(&r);
    }
    let s = stats.summary();
    assert_eq!((s.input_tokens.p50, s.input_tokens.p90, s.input_tokens.p99, s.input_tokens.max), (500, 900, 990, 1000));
    assert!((s.input_tokens.mean - 500.5).abs() < 1e-9);
    // Output values reach 2000, still in the exact range of the histogram.
    assert_eq!((s.output_tokens.p50, s.output_tokens.max), (1000, 2000));
    assert_eq!(s.by_class.get("batch"), Some(&250));
    assert_eq!(s.by_class.get("default"), Some(&750));
    assert_eq!(s.by_model.get("gpt-4o"), Some(&250));
    assert_eq!(s.by_model.get("(none)"), Some(&750));
    assert_eq!(s.by_lang.get("zh"), Some(&100));
    assert_eq!(s.by_tenant.get("default"), Some(&1000));
    assert!((s.stream_share - 0.25).abs() < 1e-12);
}

#[test]
fn large_token_counts_are_within_a_tenth_of_a_percent() {
    let mut stats = TraceStats::new();
    for i in 0..100u32 {
        stats.record(&req(u64::from(i), 0, 100_000 + i * 1000, 1));
    }
    let s = stats.summary();
    let exact_p50 = 100_000 + 49 * 1000;
    assert!(
        f64::from(s.input_tokens.p50.abs_diff(exact_p50)) <= f64::from(exact_p50) * 0.001,
        "{}",
        s.input_tokens.p50
    );
    assert_eq!(s.input_tokens.max, 100_000 + 99 * 1000);
}

#[test]
fn distinct_names_are_capped() {
    let mut stats = TraceStats::new();
    for i in 0..(MAX_KEYS as u64 + 5) {
        let mut r = req(i, i, 1, 1);
        r.tenant = format!("user-{i:05}").into();
        stats.record(&r);
    }
    let s = stats.summary();
    assert_eq!(s.by_tenant.len(), MAX_KEYS + 1);
    assert_eq!(s.by_tenant.get("(other)"), Some(&5));
}

#[test]
fn serializes_to_the_documented_keys() {
    let mut stats = TraceStats::new();
    stats.record(&req(0, 0, 800, 200));
    let json = serde_json::to_value(&stats).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "by_class",
            "by_lang",
            "by_model",
            "by_tenant",
            "input_tokens",
            "output_tokens",
            "rate_per_min",
            "requests",
            "span_ms",
            "stream_share"
        ]
    );
    assert_eq!(json["input_tokens"]["p99"], 800);
    assert_eq!(json["rate_per_min"]["peak"], 1);
}

#[test]
fn display_is_a_compact_table() {
    let mut stats = TraceStats::new();
    for i in 0..30u32 {
        let mut r = req(u64::from(i), u64::from(i) * 10_000, 100 + i, 10);
        r.tenant = format!("t{:02}", i % 12).into();
        stats.record(&r);
    }
    let text = stats.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "requests       30");
    assert_eq!(lines[1], "span           4m50s (290000 ms)");
    assert_eq!(lines[2], "rate per min   mean 6.0, peak 6");
    assert_eq!(lines[3], "tokens               p50      p90      p99      max      mean");
    assert_eq!(lines[4], "  input              114      126      129      129     114.5");
    assert_eq!(lines[6], "streamed       0.0%");
    assert_eq!(lines[7], "class          default         30  100.0%");
    // 12 tenants: the 10 largest, then the rest summed up.
    let tenant_rows: Vec<&&str> =
        lines.iter().skip_while(|l| !l.starts_with("tenant")).take_while(|l| !l.starts_with("model")).collect();
    assert_eq!(tenant_rows.len(), 11);
    assert_eq!(*tenant_rows[0], "tenant         t00               3   10.0%");
    assert_eq!(*tenant_rows[10], "               (2 more)          4   13.3%");
    assert!(text.ends_with("lang           (none)         30  100.0%\n"), "{text}");
}

#[test]
fn long_and_invisible_names_are_shortened_and_escaped_in_the_table() {
    let mut stats = TraceStats::new();
    let long = "x".repeat(70_000);
    for (i, name) in [long.as_str(), "\u{feff}bom", "nul\0"].iter().enumerate() {
        let mut r = req(i as u64, 0, 1, 1);
        r.class = (*name).into();
        r.tenant = (*name).into();
        r.model = Some((*name).into());
        r.lang = Some((*name).into());
        stats.record(&r);
    }
    // Formatting a 70,000-character name as a table column used to panic
    // (a width above u16::MAX).
    let table = stats.to_string();
    assert!(table.lines().all(|l| l.chars().count() < 120), "{table}");
    // Ties sort by name: `nul\0` first, then the long one.
    let row = format!("{:<15}{}...  {:>9}  {:>5.1}%", "", "x".repeat(48), 1, 100.0 / 3.0);
    assert!(table.lines().any(|l| l == row), "{table}");
    assert!(table.contains("\\u{feff}bom"), "{table}");
    assert!(table.contains("nul\\0"), "{table}");
    // The JSON keeps names whole.
    assert_eq!(stats.summary().by_class.get(&long), Some(&1));
}
