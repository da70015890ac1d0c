"""The official OpenAI Python client against `windtunnel proxy`.

Starts a loopback upstream that answers like OpenAI (one endpoint always 429s
with a Retry-After), starts the proxy binary in front of it, and talks to the
proxy with `openai.OpenAI`: a plain completion, a stream, and a 429 failover.
Run by .ci/run (which installs `openai`):

    python3 tests/client/openai_client.py target/debug/windtunnel

Prints one line per case and `N passed, N failed`; exits 1 if any failed.
"""

import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import openai


def completion(text, model):
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }


def chunk(text, model, finish=None):
    return {
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
        "choices": [{"index": 0, "delta": {"content": text} if text else {}, "finish_reason": finish}],
    }


class Upstream(http.server.BaseHTTPRequestHandler):
    hits = {}

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        ep = self.path.split("/")[1]
        Upstream.hits[ep] = Upstream.hits.get(ep, 0) + 1
        if ep == "limited":
            data = json.dumps({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}).encode()
            self.send_response(429)
            self.send_header("content-type", "application/json")
            self.send_header("retry-after", "30")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        model = body["model"]
        if body.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for piece in ["Hello", " ", "world"]:
                self.wfile.write(b"data: " + json.dumps(chunk(piece, model)).encode() + b"\n\n")
                self.wfile.flush()
            self.wfile.write(b"data: " + json.dumps(chunk(None, model, "stop")).encode() + b"\n\n")
            usage = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [],
                     "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}
            self.wfile.write(b"data: " + json.dumps(usage).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            return
        data = json.dumps(completion("hello from " + ep, model)).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_proxy(binary, upstream_port, chain, folder):
    port = free_port()
    scenario = os.path.join(folder, f"client-{port}.toml")
    endpoints = "".join(
        f'[[endpoints]]\nname = "test/{ep}"\nupstream = {{ kind = "openai", base_url = "http://127.0.0.1:{upstream_port}/{ep}/v1" }}\n'
        for ep in chain
    )
    names = ", ".join(f'"test/{ep}"' for ep in chain)
    with open(scenario, "w") as f:
        f.write(f'name = "client"\npolicy = {{ chain = [{names}] }}\n{endpoints}')
    proc = subprocess.Popen([binary, "proxy", scenario, "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the proxy did not start: " + proc.stderr.read().decode())


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/windtunnel"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    up = server.server_address[1]
    results = []
    with tempfile.TemporaryDirectory() as folder:
        proc, port = start_proxy(binary, up, ["ok"], folder)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=10)
        try:
            r = client.chat.completions.create(model="any", messages=[{"role": "user", "content": "Say hello."}])
            ok = r.choices[0].message.content == "hello from ok" and r.usage.prompt_tokens == 12
            results.append(("non-streaming completion", ok, r.choices[0].message.content))
            stream = client.chat.completions.create(
                model="any", stream=True, messages=[{"role": "user", "content": "Say hello."}])
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            results.append(("streaming completion", text == "Hello world", repr(text)))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        proc, port = start_proxy(binary, up, ["limited", "ok"], folder)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=10)
        try:
            raw = client.chat.completions.with_raw_response.create(
                model="any", messages=[{"role": "user", "content": "Say hello."}])
            r = raw.parse()
            ok = (raw.headers.get("x-windtunnel-endpoint") == "test/ok"
                  and raw.headers.get("x-windtunnel-attempts") == "2"
                  and r.choices[0].message.content == "hello from ok")
            results.append(("429 with Retry-After fails over", ok, dict(raw.headers)))
            client.chat.completions.create(model="any", messages=[{"role": "user", "content": "again"}])
            results.append(("the rate-limited endpoint is left alone", Upstream.hits.get("limited") == 1,
                            f"hits {Upstream.hits}"))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    failed = 0
    for name, ok, detail in results:
        print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else f" ({detail})"))
        failed += 0 if ok else 1
    print(f"{len(results) - failed} passed, {failed} failed")
    server.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
