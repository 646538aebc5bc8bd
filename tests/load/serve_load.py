"""A load test of `lethe serve`: mixed traffic on loopback, bounded in time and count.

Predicting clients send one-input requests as fast as they are answered; one forgetting
client sends single-record forgets at a fixed rate. Prints one JSON object: requests per
second, p50/p99 latency of each kind, and every error (any answer but 200, or no answer).
Exit status 1 when there were errors. It asserts nothing about time: the figures go to
docs/benchmarks.md with the command that measured them.

Usage: serve_load.py --url http://127.0.0.1:PORT --token TOKEN --ids FILE
           [--payload image|text] [--size 784] [--seconds 60] [--clients 8]
           [--forgets-per-second 20] [--max-requests 200000]
--ids: record IDs to forget, one per line, used in order (a forget per ID at most).
"""
import argparse
import http.client
import json
import sys
import threading
import time


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--payload", default="image", choices=["image", "text"])
    ap.add_argument("--size", type=int, default=784)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--forgets-per-second", type=float, default=20)
    ap.add_argument("--max-requests", type=int, default=200000)
    a = ap.parse_args()
    if not a.url.startswith("http://127.0.0.1:"):
        sys.exit("loopback only: --url must be http://127.0.0.1:PORT")
    port = int(a.url.rsplit(":", 1)[1].rstrip("/"))
    with open(a.ids) as f:
        ids = [line.strip() for line in f if line.strip()]

    # Bodies encoded once: the client's own JSON work must not be what is measured.
    bodies = []
    for i in range(64):
        if a.payload == "image":
            x = {"image": [(k * 7 + i * 31) % 256 for k in range(a.size)]}
        else:
            x = {"text": f"request {i}: the quick brown fox jumps over the lazy dog"}
        bodies.append(json.dumps({"inputs": [x]}).encode())

    run = f"{time.time_ns():x}"  # request IDs unique across runs on one workspace
    lock = threading.Lock()
    predict_ms, forget_ms, errors = [], [], []
    sent = [0]
    stop_at = time.monotonic() + a.seconds

    def budget():
        with lock:
            if sent[0] >= a.max_requests:
                return False
            sent[0] += 1
            return True

    class Client:
        """One keep-alive connection; each call records its latency and any error."""

        def __init__(self):
            self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def post(self, path, body, headers, latencies):
            t = time.monotonic()
            try:
                self.conn.request("POST", path, body, dict(headers, **{"Content-Type": "application/json"}))
                r = self.conn.getresponse()
                out, status = r.read(), r.status
            except Exception as e:  # no answer: an error too
                out, status = str(e).encode(), 0
                self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            ms = (time.monotonic() - t) * 1e3
            with lock:
                latencies.append(ms)
                if status != 200:
                    errors.append({"route": path, "status": status, "body": out[:200].decode("utf-8", "replace")})

    def predictor(c):
        client, i = Client(), c
        while time.monotonic() < stop_at and budget():
            client.post("/v1/predict", bodies[i % len(bodies)], {}, predict_ms)
            i += a.clients

    def forgetter():
        client, start = Client(), time.monotonic()
        for k, rid in enumerate(ids):
            due = start + k / a.forgets_per_second
            now = time.monotonic()
            if due >= stop_at:
                break
            if due > now:
                time.sleep(due - now)
            if not budget():
                break
            body = json.dumps({"ids": [rid], "request_id": f"load-{run}-{k}"}).encode()
            client.post("/v1/forget", body, {"Authorization": f"Bearer {a.token}"}, forget_ms)

    threads = [threading.Thread(target=predictor, args=(c,)) for c in range(a.clients)]
    threads.append(threading.Thread(target=forgetter))
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    report = {
        "seconds": round(elapsed, 2),
        "clients": a.clients,
        "predictions": len(predict_ms),
        "predictions_per_second": round(len(predict_ms) / elapsed, 1),
        "predict_p50_ms": percentile(predict_ms, 50),
        "predict_p99_ms": percentile(predict_ms, 99),
        "forgets": len(forget_ms),
        "forgets_per_second": round(len(forget_ms) / elapsed, 2),
        "forget_p50_ms": percentile(forget_ms, 50),
        "forget_p99_ms": percentile(forget_ms, 99),
        "errors": len(errors),
        "first_errors": errors[:5],
    }
    print(json.dumps(report))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
