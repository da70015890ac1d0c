-- wrk script: POST one small chat completion (crates/proxy/benches/README.md).
wrk.method = "POST"
wrk.body   = '{"model":"m","max_tokens":16,"messages":[{"role":"user","content":"Say ok."}]}'
wrk.headers["Content-Type"] = "application/json"
