use super::*;
use crate::fixtures::{fixture, headers};
use std::time::{Duration, UNIX_EPOCH};

fn no_headers(_: &str) -> Option<String> {
    None
}

/// Classifies `body` with no headers at time 0.
fn kind_of(status: u16, body: &str) -> ErrorKind {
    classify(status, &no_headers, body.as_bytes(), UNIX_EPOCH).0.kind
}

fn error(message: &str, code: &str) -> String {
    serde_json::json!({ "error": { "message": message, "type": "invalid_request_error", "code": code } }).to_string()
}

// === kinds ===

#[test]
fn rate_limit_429_is_rate_limited() {
    let (err, message) = classify(429, &no_headers, fixture("openai/error_429_rate_limit.json").as_bytes(), UNIX_EPOCH);
    assert_eq!(err.kind, ErrorKind::RateLimited);
    assert_eq!(err.status, Some(429));
    assert!(message.starts_with("Rate limit reached for gpt-4o-mini"), "{message}");
    assert_eq!(kind_of(429, &fixture("anthropic/error_429_rate_limit.json")), ErrorKind::RateLimited);
    assert_eq!(kind_of(429, ""), ErrorKind::RateLimited);
}

#[test]
fn insufficient_quota_429_is_quota_exceeded() {
    assert_eq!(kind_of(429, &fixture("openai/error_429_insufficient_quota.json")), ErrorKind::QuotaExceeded);
    assert_eq!(
        kind_of(429, &error("Billing hard limit has been reached", "billing_hard_limit_reached")),
        ErrorKind::QuotaExceeded
    );
}

#[test]
fn a_429_message_about_quota_or_credit_is_quota_exceeded() {
    assert_eq!(kind_of(429, r#"{"error": "Monthly quota exhausted for this key"}"#), ErrorKind::QuotaExceeded);
    assert_eq!(kind_of(429, r#"{"error": {"message": "Out of credits."}}"#), ErrorKind::QuotaExceeded);
    // An explicit rate-limit code wins over the words.
    assert_eq!(kind_of(429, &error("per-minute quota reached", "rate_limit_exceeded")), ErrorKind::RateLimited);
}

#[test]
fn status_402_is_quota_exceeded() {
    assert_eq!(kind_of(402, r#"{"error": {"message": "Insufficient balance"}}"#), ErrorKind::QuotaExceeded);
}

#[test]
fn anthropic_credit_balance_400_is_quota_exceeded() {
    assert_eq!(kind_of(400, &fixture("anthropic/error_400_credit_balance.json")), ErrorKind::QuotaExceeded);
}

#[test]
fn statuses_401_and_403_are_auth() {
    assert_eq!(kind_of(401, &fixture("openai/error_401_invalid_api_key.json")), ErrorKind::Auth);
    assert_eq!(kind_of(401, &fixture("anthropic/error_401_authentication.json")), ErrorKind::Auth);
    assert_eq!(
        kind_of(
            403,
            r#"{"error":{"message":"Country, region, or territory not supported","type":"request_forbidden","code":"unsupported_country_region_territory"}}"#
        ),
        ErrorKind::Auth
    );
}

#[test]
fn client_statuses_are_bad_request() {
    assert_eq!(kind_of(400, &fixture("openai/error_400_invalid_request.json")), ErrorKind::BadRequest);
    assert_eq!(kind_of(404, &fixture("openai/error_404_model_not_found.json")), ErrorKind::BadRequest);
    assert_eq!(
        kind_of(
            413,
            r#"{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}"#
        ),
        ErrorKind::BadRequest
    );
    assert_eq!(kind_of(422, r#"{"detail": "Unprocessable Entity"}"#), ErrorKind::BadRequest);
}

#[test]
fn context_length_errors_are_context_exceeded() {
    assert_eq!(kind_of(400, &fixture("openai/error_400_context_length.json")), ErrorKind::ContextExceeded);
    assert_eq!(kind_of(400, &fixture("anthropic/error_400_prompt_too_long.json")), ErrorKind::ContextExceeded);
    assert_eq!(kind_of(400, &fixture("openai/error_vllm_400_context.json")), ErrorKind::ContextExceeded);
    assert_eq!(kind_of(413, r#"{"error": {"message": "Too many tokens in the request"}}"#), ErrorKind::ContextExceeded);
    assert_eq!(kind_of(422, &error("x", "context_length_exceeded")), ErrorKind::ContextExceeded);
}

#[test]
fn content_filter_errors_are_content_filter() {
    assert_eq!(kind_of(400, &fixture("openai/error_400_content_filter.json")), ErrorKind::ContentFilter);
    assert_eq!(kind_of(400, &error("Your request was rejected", "content_policy_violation")), ErrorKind::ContentFilter);
    assert_eq!(kind_of(400, r#"{"error": {"message": "Blocked by safety settings"}}"#), ErrorKind::ContentFilter);
}

#[test]
fn status_408_is_timeout() {
    assert_eq!(kind_of(408, ""), ErrorKind::Timeout);
}

#[test]
fn status_504_is_timeout_as_in_the_simulator() {
    assert_eq!(kind_of(504, "<html>Gateway Time-out</html>"), ErrorKind::Timeout);
    assert_eq!(kind_of(504, ""), AttemptError::from_status(504).kind);
}

#[test]
fn statuses_500_and_502_are_server_errors() {
    assert_eq!(kind_of(500, &fixture("openai/error_500_server_error.json")), ErrorKind::ServerError);
    assert_eq!(kind_of(500, &fixture("anthropic/error_500_api_error.json")), ErrorKind::ServerError);
    assert_eq!(kind_of(502, "<html><body><h1>502 Bad Gateway</h1></body></html>"), ErrorKind::ServerError);
}

#[test]
fn statuses_503_and_529_are_overloaded() {
    assert_eq!(kind_of(503, &fixture("openai/error_503_overloaded.json")), ErrorKind::Overloaded);
    assert_eq!(kind_of(529, &fixture("anthropic/error_529_overloaded.json")), ErrorKind::Overloaded);
}

#[test]
fn anthropic_overloaded_error_is_overloaded_whatever_the_status() {
    assert_eq!(kind_of(500, &fixture("anthropic/error_529_overloaded.json")), ErrorKind::Overloaded);
}

#[test]
fn other_5xx_are_server_errors_and_other_4xx_bad_requests() {
    assert_eq!(kind_of(501, ""), ErrorKind::ServerError);
    assert_eq!(kind_of(520, ""), ErrorKind::ServerError);
    assert_eq!(kind_of(409, ""), ErrorKind::BadRequest);
    assert_eq!(kind_of(418, ""), ErrorKind::BadRequest);
}

#[test]
fn a_200_with_an_error_body_uses_its_code_or_type() {
    assert_eq!(kind_of(200, r#"{"error": {"message": "Upstream error", "code": 502}}"#), ErrorKind::ServerError);
    assert_eq!(kind_of(200, r#"{"error": {"message": "slow down", "code": 429}}"#), ErrorKind::RateLimited);
    assert_eq!(kind_of(200, &fixture("anthropic/error_529_overloaded.json")), ErrorKind::Overloaded);
    assert_eq!(kind_of(200, "not json"), ErrorKind::Malformed);
}

// === messages ===

#[test]
fn the_message_is_the_bodys_cut_to_500_characters() {
    let long = "m".repeat(2_000);
    let (_, message) = classify(400, &no_headers, error(&long, "x").as_bytes(), UNIX_EPOCH);
    assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
    assert!(message.ends_with('…'));
    let exact = "é".repeat(MAX_MESSAGE_CHARS);
    let (_, message) = classify(400, &no_headers, error(&exact, "x").as_bytes(), UNIX_EPOCH);
    assert_eq!(message, exact);
}

#[test]
fn a_body_without_a_message_gets_the_status() {
    assert_eq!(classify(503, &no_headers, b"", UNIX_EPOCH).1, "upstream answered 503");
    assert_eq!(
        classify(529, &no_headers, br#"{"error": {"type": "overloaded_error"}}"#, UNIX_EPOCH).1,
        "upstream answered 529 (overloaded_error)"
    );
    assert_eq!(
        classify(502, &no_headers, b"<html>\n  <h1>Bad   Gateway</h1>\n</html>", UNIX_EPOCH).1,
        "<html> <h1>Bad Gateway</h1> </html>"
    );
}

#[test]
fn header_values_never_reach_the_message() {
    let h = headers(&[("retry-after", "sk-secret-in-a-header"), ("x-api-key", "sk-secret")]);
    let (_, message) = classify(401, &h, b"", UNIX_EPOCH);
    assert!(!message.contains("sk-secret"), "{message}");
}

// === Retry-After ===

#[test]
fn retry_after_in_seconds() {
    let h = headers(&[("Retry-After", "2")]);
    assert_eq!(classify(429, &h, b"", UNIX_EPOCH).0.retry_after_ms, Some(2_000));
    // Any status may carry one.
    assert_eq!(classify(503, &h, b"", UNIX_EPOCH).0.retry_after_ms, Some(2_000));
}

#[test]
fn retry_after_as_an_http_date() {
    let now = UNIX_EPOCH + Duration::from_secs(1_714_564_800); // Wed, 01 May 2024 12:00:00 GMT
    let h = headers(&[("retry-after", "Wed, 01 May 2024 12:00:05 GMT")]);
    assert_eq!(classify(429, &h, b"", now).0.retry_after_ms, Some(5_000));
    let past = headers(&[("retry-after", "Wed, 01 May 2024 11:59:00 GMT")]);
    assert_eq!(classify(429, &past, b"", now).0.retry_after_ms, Some(0));
}

#[test]
fn retry_after_ms_header() {
    let h = headers(&[("retry-after-ms", "250"), ("retry-after", "1")]);
    assert_eq!(classify(429, &h, b"", UNIX_EPOCH).0.retry_after_ms, Some(250));
}

#[test]
fn openai_reset_headers_on_a_429() {
    let h = headers(&[("x-ratelimit-reset-requests", "6m0s"), ("x-ratelimit-reset-tokens", "1s")]);
    let (err, _) = classify(429, &h, fixture("openai/error_429_rate_limit.json").as_bytes(), UNIX_EPOCH);
    assert_eq!(err.retry_after_ms, Some(360_000));
    let h = headers(&[("x-ratelimit-reset-tokens", "20ms")]);
    assert_eq!(classify(429, &h, b"", UNIX_EPOCH).0.retry_after_ms, Some(20));
    // Not on other statuses.
    assert_eq!(classify(500, &h, b"", UNIX_EPOCH).0.retry_after_ms, None);
}

#[test]
fn anthropic_reset_headers_on_a_429() {
    let now = UNIX_EPOCH + Duration::from_secs(1_714_564_800);
    let h = headers(&[
        ("anthropic-ratelimit-requests-remaining", "12"),
        ("anthropic-ratelimit-requests-reset", "2024-05-01T12:00:01Z"),
        ("anthropic-ratelimit-tokens-remaining", "0"),
        ("anthropic-ratelimit-tokens-reset", "2024-05-01T12:00:42Z"),
    ]);
    let (err, _) = classify(429, &h, fixture("anthropic/error_429_rate_limit.json").as_bytes(), now);
    assert_eq!(err.retry_after_ms, Some(42_000));
}

#[test]
fn no_retry_after_without_headers() {
    assert_eq!(classify(429, &no_headers, b"", UNIX_EPOCH).0.retry_after_ms, None);
}
