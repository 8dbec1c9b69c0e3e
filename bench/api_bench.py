#!/usr/bin/env python3
"""Enrichment speed against a local fake Genesys Cloud API with injected latency.

Fetching is bound by latency and the rate limit, so each scenario is compared with its ideal:
N ids at latency L and concurrency C with no rate limit should take N*L/C; under a limit of
R requests a minute, N/R minutes; --source analytics should send about N/100 requests.
The server runs in this process (threads, 127.0.0.1 only); gcorr runs as a subprocess.

    python3 bench/api_bench.py [--gcorr target/release/gcorr] [--runs 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parent.parent


class Fake:
    latency = 0.05
    requests = 0
    lock = threading.Lock()


def conversation(cid):
    return {
        "id": cid,
        "participants": [
            {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, cid + "c")), "purpose": "customer",
             "calls": [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, cid + "s")), "state": "disconnected",
                        "direction": "inbound", "disconnectType": "endpoint",
                        "connectedTime": "2026-03-02T08:00:00.000Z", "disconnectedTime": "2026-03-02T08:05:00.000Z",
                        "segments": [{"startTime": "2026-03-02T08:00:00.000Z", "endTime": "2026-03-02T08:05:00.000Z",
                                      "type": "interact"}]}]}]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in separate writes

    def log_message(self, *a):
        pass

    def reply(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply({"access_token": "bench-token", "token_type": "bearer", "expires_in": 86400})

    def do_GET(self):
        with Fake.lock:
            Fake.requests += 1
        time.sleep(Fake.latency)
        url = urlparse(self.path)
        if url.path.startswith("/api/v2/conversations/"):
            return self.reply(conversation(url.path.rsplit("/", 1)[1]))
        ids = parse_qs(url.query).get("id", [""])[0].split(",")
        self.reply({"conversations": [{"conversationId": i, "participants": []} for i in ids if i]})


def events_file(n, path):
    with open(path, "w") as f:
        for k in range(n):
            cid = str(uuid.UUID(int=0x5EED_0000_0000_4000_8000_0000_0000_0000 + k))
            f.write(json.dumps({"id": str(uuid.UUID(int=k + 1)), "detail": {
                "topicName": f"v2.detail.events.conversation.{cid}.customer.start",
                "eventBody": {"eventTime": 1772438400000 + k, "conversationId": cid, "mediaType": "VOICE"}}}) + "\n")


def run(gcorr, base, events, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESYS")}
    env.update(GENESYSCLOUD_OAUTHCLIENT_ID="bench", GENESYSCLOUD_OAUTHCLIENT_SECRET="bench")
    Fake.requests = 0
    start = time.monotonic()
    p = subprocess.run([gcorr, "correlate", events, "-q", "-o", os.devnull, "--api-base", base, *args],
                       env=env, capture_output=True, text=True)
    took = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"gcorr failed ({p.returncode}): {p.stderr}")
    return took, Fake.requests


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gcorr", default=str(ROOT / "target" / "release" / "gcorr"))
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    scenarios = [
        # name, ids, latency s, gcorr args, ideal seconds
        ("conversations, C=8, L=50 ms, no limit", 400, 0.05, ["--concurrency", "8", "--max-rpm", "100000"], 400 * 0.05 / 8),
        ("conversations, C=32, L=50 ms, no limit", 800, 0.05, ["--concurrency", "32", "--max-rpm", "100000"], 800 * 0.05 / 32),
        ("conversations, C=8, L=20 ms, 1200 rpm", 200, 0.02, ["--concurrency", "8", "--max-rpm", "1200"], 200 / 1200 * 60),
        ("analytics, 2000 ids, batch 100, L=50 ms", 2000, 0.05, ["--source", "analytics", "--max-rpm", "100000"], None),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, n, latency, args, ideal in scenarios:
            events = os.path.join(tmp, f"{n}.ndjson")
            events_file(n, events)
            Fake.latency = latency
            times, reqs = [], 0
            for _ in range(a.runs):
                t, reqs = run(a.gcorr, base, events, args)
                times.append(t)
            med = statistics.median(times)
            rows.append({"scenario": name, "ids": n, "median_s": round(med, 3), "ideal_s": ideal and round(ideal, 3),
                         "ratio": ideal and round(med / ideal, 2), "requests": reqs})
    print(f"{'scenario':44} {'ids':>5} {'median s':>9} {'ideal s':>8} {'ratio':>6} {'requests':>9}")
    for r in rows:
        print(f"{r['scenario']:44} {r['ids']:>5} {r['median_s']:>9} {str(r['ideal_s'] or '-'):>8} "
              f"{str(r['ratio'] or '-'):>6} {r['requests']:>9}")
    (ROOT / "bench" / "api-results.json").write_text(json.dumps(rows, indent=2) + "\n")
    server.shutdown()


if __name__ == "__main__":
    main()
