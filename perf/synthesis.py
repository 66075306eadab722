"""Synthesis generation throughput against a local OpenAI-compatible server.

Runs self-instruct VQA over synthetic (image, caption) pairs through the HTTP engine at several
concurrency levels. The server answers after `--latency-s` (a stand-in for model time), so the
numbers show how well the client keeps requests in flight, not how fast a model is. Each level runs
twice on one cache: cold (every request sent) and warm (a rerun, answered from the sqlite cache).

    python perf/synthesis.py --samples 512 --latency-s 0.05 --concurrency 1 8 32 64

(after `pip install -e .`, or with PYTHONPATH=. from the repository root).
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

from lingshu.engines.openai import OpenAIEngine
from lingshu.schema import Sample
from lingshu.synthesis import Reject, apply
from lingshu.synthesis.self_instruct_vqa import SelfInstructVQA

REPLY = json.dumps({"question": "Which organ is shown?", "answer": "Liver",
                    "wrong_answers": ["Spleen", "Kidney", "Heart"]})


def serve(latency_s: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(latency_s)
            payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": REPLY}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 512

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def samples(n: int) -> list[Sample]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=90)
        out.append(Sample(id=f"b{i}", source="bench", kind="caption", images=[buf.getvalue()],
                          messages=[{"role": "user", "content": "<image>\nDescribe."},
                                    {"role": "assistant", "content": f"A CT slice of the abdomen, case {i}."}]))
    return out


def run(url: str, data: list[Sample], concurrency: int, cache: Path, batch_size: int) -> tuple[float, dict]:
    engine = OpenAIEngine(model="bench", base_url=url, api_key_env=None, concurrency=concurrency, max_retries=0)
    syn = SelfInstructVQA(engine, cache_path=cache, batch_size=batch_size)
    start = time.perf_counter()
    out = list(apply({"self_instruct_vqa": syn}, data, keep_inputs=False, chunk_size=batch_size))
    elapsed = time.perf_counter() - start
    assert not any(isinstance(o, Reject) for o in out), "the benchmark server only sends valid replies"
    return elapsed, dict(syn.stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--latency-s", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", default="outputs/perf/synthesis.json")
    args = parser.parse_args()

    server = serve(args.latency_s)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    data = samples(args.samples)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for c in args.concurrency:
            cache = Path(tmp) / f"c{c}.sqlite"
            cold, stats = run(url, data, c, cache, args.batch_size)
            warm, warm_stats = run(url, data, c, cache, args.batch_size)
            rows.append({"concurrency": c, "requests": stats["requests"], "cold_s": round(cold, 3),
                         "cold_requests_per_s": round(stats["requests"] / cold, 1),
                         "ideal_requests_per_s": round(c / args.latency_s, 1) if args.latency_s else None,
                         "warm_s": round(warm, 3), "warm_requests_sent": warm_stats.get("requests", 0),
                         "warm_samples_per_s": round(args.samples / warm, 1)})
    server.shutdown()

    header = ["concurrency", "requests", "cold_s", "cold_requests_per_s", "ideal_requests_per_s",
              "warm_s", "warm_requests_sent", "warm_samples_per_s"]
    print(f"self_instruct_vqa, {args.samples} samples (224 px JPEG), server latency {args.latency_s * 1000:.0f} ms")
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row[h]) for h in header))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"samples": args.samples, "latency_s": args.latency_s, "batch_size": args.batch_size,
                               "rows": rows}, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
