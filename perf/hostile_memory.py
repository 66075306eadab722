"""Peak memory on hostile inputs (issue 18): each case runs in a fresh subprocess and reports its
own peak RSS (VmHWM of /proc/self/status: unlike getrusage's maxrss it does not carry the parent's
peak across fork and exec), so the figures are of lingshu alone.

1. curation of a caption source (JSON Lines, and an image folder with sidecar captions) holding
   20 ordinary captions and one 50 MB caption, through the paper's per-sample chain (decode,
   min size, pHash dedup, caption token length, MinHash dedup) and shard writing;
2. evaluation of a 2-item benchmark through the OpenAI-compatible engine, against a server on
   127.0.0.1 whose reply is 200 MB (streamed by the server, never held by it).
Goal: each under 1 GB.

    python perf/hostile_memory.py [--caption-mb 50] [--reply-mb 200] [--out perf/results/hostile_memory.json]
(PYTHONPATH=. from the repository root; point PYTHONPATH at another checkout to measure it instead)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((96, 96), 40 + i).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def caption(i: int) -> str:
    return " ".join(f"finding{i}_{j} of the chest radiograph" for j in range(6))


def make_sources(root: Path, caption_mb: int) -> None:
    huge = ("opacity " * (caption_mb << 17))[: caption_mb << 20]
    table, folder = root / "table", root / "folder"
    table.mkdir()
    folder.mkdir()
    with open(table / "captions.jsonl", "w", encoding="utf-8") as f:
        for i in range(21):
            (table / f"{i}.png").write_bytes(png(i))
            f.write(json.dumps({"image": f"{i}.png", "caption": huge if i == 10 else caption(i)}) + "\n")
    for i in range(21):
        (folder / f"{i}.png").write_bytes(png(i))
        (folder / f"{i}.txt").write_text(huge if i == 10 else caption(i), encoding="utf-8")


def child_curate(root: str, kind: str) -> dict:
    from lingshu.curation.dedup import MinHashDedup, PhashDedup
    from lingshu.curation.ops import DecodeCheck, MinSize, TokenLength
    from lingshu.curation.runner import Curation, curate
    from lingshu.data.sources.captions import CaptionPairsSource, ImageFolderSource

    root_path = Path(root)
    source = (CaptionPairsSource(path=root_path / "table" / "captions.jsonl", name="captions") if kind == "jsonl"
              else ImageFolderSource(path=root_path / "folder", name="captions"))
    ops = [DecodeCheck(name="decode"), MinSize(name="min_size"),
           PhashDedup(name="phash_caption", kinds=["caption"], threshold=0, scope="global"),
           TokenLength(name="caption_tokens", tokenizer=str(ROOT / "lingshu" / "assets" / "tiny_tokenizer")),
           MinHashDedup(name="minhash_text", images=False)]
    out = root_path / f"out-{kind}"
    counts = curate(Curation({"captions": source}, ops, out, "b" * 64))["counts"]["captions"]
    rejects = [json.loads(x) for x in (out / "captions" / "rejects.jsonl").read_text().splitlines()]
    return {"counts": counts, "rejects": [f"{r['op']}: {r['reason'][:120]}" for r in rejects]}


def child_eval(base_url: str, out_dir: str) -> dict:
    from lingshu.engines.openai import OpenAIEngine
    from lingshu.evaluation.runner import run_benchmark
    from lingshu.schema import BenchmarkItem

    class TwoItems:
        def load(self):
            for i in range(2):
                yield BenchmarkItem(id=f"q{i}", benchmark="hostile", question="Is it normal?", answer="yes",
                                    answer_type="closed")

    engine = OpenAIEngine(model="m", base_url=base_url, api_key_env=None, max_retries=0, timeout_s=600)
    try:
        run_benchmark("hostile", TwoItems(), engine, Path(out_dir), progress=False, with_meteor=False)
        outcome = "accepted"
    except Exception as e:  # the engine's error is the outcome being measured
        outcome = f"{type(e).__name__}: {str(e)[:160]}"
    pred = Path(out_dir) / "hostile" / "predictions.jsonl"
    return {"outcome": outcome, "predictions_bytes": pred.stat().st_size if pred.exists() else 0}


class HugeReply(BaseHTTPRequestHandler):
    reply_mb = 200

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        head, tail = b'{"choices": [{"message": {"role": "assistant", "content": "', b'"}}]}'
        body_len = len(head) + (self.reply_mb << 20) + len(tail)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(body_len))
        self.end_headers()
        try:
            self.wfile.write(head)
            for _ in range(self.reply_mb):
                self.wfile.write(b"yes " * (1 << 18))
            self.wfile.write(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass


def peak_rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return round(int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1]) / 1024, 1)


def in_subprocess(fn: str, *args: str) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT / 'perf')!r}); import hostile_memory as h; "
            f"r = h.{fn}(*sys.argv[1:]); r['peak_rss_mb'] = h.peak_rss_mb(); "
            "print('RESULT ' + json.dumps(r))")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=os.environ)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}",
                "peak_rss_mb": None}
    return json.loads(line[7:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--caption-mb", type=int, default=50)
    ap.add_argument("--reply-mb", type=int, default=200)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    results = {"lingshu": os.environ.get("PYTHONPATH", "(installed)")}
    with tempfile.TemporaryDirectory() as tmp:
        make_sources(Path(tmp), args.caption_mb)
        for kind in ("jsonl", "folder"):
            results[f"curation_{kind}_{args.caption_mb}mb_caption"] = in_subprocess("child_curate", tmp, kind)
        HugeReply.reply_mb = args.reply_mb
        server = ThreadingHTTPServer(("127.0.0.1", 0), HugeReply)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        results[f"eval_{args.reply_mb}mb_reply"] = in_subprocess("child_eval", url, str(Path(tmp) / "eval"))
        server.shutdown()
    print(json.dumps(results, indent=2))
    if args.out:
        from lingshu.io import write_json
        write_json(args.out, results)


if __name__ == "__main__":
    main()
