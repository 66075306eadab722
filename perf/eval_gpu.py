"""vLLM evaluation throughput on one GPU: short-answer MCQ requests per second through the real
evaluation runner (prompts, engine, answer extraction, scoring, predictions.jsonl, metrics.json).

The model is a real checkpoint (--model /models/Qwen2.5-VL-7B-Instruct) or, by default, one with
Qwen2.5-VL-7B's shape and random weights (`lingshu.models.shapes`, the shipped tiny tokenizer)
written as an hf/ folder by lingshu's export, so the run also checks that vLLM loads what lingshu
saves. Items: the demo benchmark's MCQs, images resized to --image-size px, all in one engine call
(--batch-size). Random weights never stop early, so every request runs to --max-new-tokens
(default 8, about what a one-letter answer plus end token costs a trained model) and few answers
parse. Goal: >= 10 requests/s for a 7B-shaped model on one H100.
Checks (exit 1 if one fails): a scored record for every item; with --model, at least --min-parsed
of the answers parse.

    python perf/eval_gpu.py [--model PATH] [--requests 1000] [--out perf/results/eval_gpu.json]
    python perf/eval_gpu.py --dry-run   # CPU, tiny model, the HF engine instead of vLLM (the tests run this)
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.metadata
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from gpu_inputs import resized  # perf/ (this script's folder)
from rich.console import Console
from rich.table import Table

from lingshu.data.demo import demo_benchmark_items
from lingshu.engines.hf import HFEngine
from lingshu.engines.vllm import VLLMEngine, unavailable
from lingshu.evaluation.prompts import build_request
from lingshu.evaluation.runner import run_benchmark
from lingshu.models.backbone import Backbone
from lingshu.models.export import export_hf
from lingshu.models.shapes import shaped_model

MIN_PIXELS, MAX_PIXELS = 3136, 1003520  # the 7B model config's pixel budget (MedEvalKit's pin)
DRY_RUN = {"requests": 6, "image_size": 56, "batch_size": 4, "max_new_tokens": 4}


class Items:
    """A benchmark whose items are made up front, so the timing holds no image rendering."""
    name, max_images = "demo_mcq", 1

    def __init__(self, items: list):
        self.items = items

    def load(self):
        yield from self.items


def mcq_items(count: int, image_size: int) -> list:
    items = list(demo_benchmark_items(seed=0, num_images=count, kinds=("mcq",)))[:count]
    return [dataclasses.replace(it, images=[resized(b, image_size) for b in it.images]) for it in items]


def build_model(shape: str, out_dir: Path, dry_run: bool) -> tuple[Path, dict]:
    """A random `shape` model exported as an hf/ folder; the in-memory copy is freed for the engine."""
    t0 = time.perf_counter()
    model, processor = shaped_model(shape, device="cpu" if dry_run else "cuda",
                                    dtype="float32" if dry_run else "bfloat16", min_pixels=MIN_PIXELS,
                                    max_pixels=MAX_PIXELS)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    path = export_hf(model, processor, out_dir)
    info = {"params_b": sum(p.numel() for p in model.parameters()) / 1e9, "build_s": build_s,
            "export_s": time.perf_counter() - t0}
    del model
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return path, info


def build_engine(model_path: Path, args):
    """vLLM as `engine=vllm` builds it; in a dry run, the HF engine on the same folder (CPU)."""
    if args.dry_run:
        model, processor = Backbone(name="exported", path=str(model_path), dtype="float32", min_pixels=MIN_PIXELS,
                                    max_pixels=MAX_PIXELS).build()
        return HFEngine(model, processor, batch_size=args.batch_size, device="cpu")
    return VLLMEngine(model_path=str(model_path), tensor_parallel_size=args.tensor_parallel_size, max_images=1,
                      gpu_memory_utilization=args.gpu_memory_utilization, min_pixels=MIN_PIXELS,
                      max_pixels=MAX_PIXELS, enforce_eager=args.enforce_eager)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="HF checkpoint folder (default: a random 7B-shaped model)")
    ap.add_argument("--shape", default="qwen2_5_vl_7b", help="shape of the random model")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--image-size", type=int, default=448)
    ap.add_argument("--max-new-tokens", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=1024, help="requests per engine call (eval.batch_size)")
    ap.add_argument("--tensor-parallel-size", type=int, default=1)
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    ap.add_argument("--enforce-eager", action="store_true", help="vLLM without CUDA graphs")
    ap.add_argument("--min-parsed", type=float, default=0.9, help="with --model: share of answers that must parse")
    ap.add_argument("--out", default="perf/results/eval_gpu.json")
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny model, HF engine, a few items")
    args = ap.parse_args()
    if args.dry_run:
        vars(args).update(DRY_RUN, shape="tiny")
    elif reason := unavailable():
        print(f"eval_gpu: needs a CUDA GPU with vLLM ({reason}); --dry-run runs the rest on CPU", file=sys.stderr)
        sys.exit(2)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lingshu_eval_gpu_") as tmp:
        result = measure(args, Path(tmp))
    out.write_text(json.dumps(result, indent=2))
    report(result)
    failed = [k for k in ("records", "parsing") if not result[k]["ok"]]
    if failed:
        sys.exit(f"eval_gpu: failed: {', '.join(failed)} (details in {out})")


def measure(args, workdir: Path) -> dict:
    result: dict = {"model": args.model or f"random {args.shape}", "dry_run": args.dry_run,
                    "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                    "settings": {k: v for k, v in vars(args).items() if k != "out"}}
    if args.model:
        model_path = Path(args.model)
    else:
        model_path, result["build"] = build_model(args.shape, workdir / "hf", args.dry_run)
    bench = Items(mcq_items(args.requests, args.image_size))
    t0 = time.perf_counter()
    engine = build_engine(model_path, args)
    result["engine_start_s"] = time.perf_counter() - t0
    engine.generate([build_request(it, max_new_tokens=args.max_new_tokens) for it in bench.items[:8]])  # warm-up
    t0 = time.perf_counter()
    metrics = run_benchmark(bench.name, bench, engine, workdir / "eval", batch_size=args.batch_size,
                            max_new_tokens=args.max_new_tokens, with_meteor=False, progress=False)
    seconds = time.perf_counter() - t0
    n = len(bench.items)
    records = (workdir / "eval" / bench.name / "predictions.jsonl").read_text().splitlines()
    parsed = 1 - metrics["unparsed"] / n
    result.update({
        "engine": engine.describe() if hasattr(engine, "describe") else "hf", "requests": n, "seconds": seconds,
        "requests_per_s": n / seconds, "goal_10_per_s_met": n / seconds >= 10, "accuracy": metrics["accuracy"],
        "parsed_fraction": parsed, "sample_response": json.loads(records[0])["response"][:80] if records else None,
        "records": {"ok": len(records) == n, "written": len(records)},
        "parsing": {"ok": parsed >= args.min_parsed if args.model else True, "required": args.min_parsed
                    if args.model else None}})
    if not args.dry_run:
        result["versions"] = {"torch": torch.__version__, "vllm": importlib.metadata.version("vllm")}
    return result


def report(result: dict) -> None:
    table = Table(title=f"MCQ evaluation through {'HF (dry run)' if result['dry_run'] else 'vLLM'} on {result['device']}")
    for col in ("model", "requests", "seconds", "requests/s", "parsed", "accuracy"):
        table.add_column(col)
    table.add_row(result["model"][:40], str(result["requests"]), f"{result['seconds']:.2f}",
                  f"{result['requests_per_s']:.1f}", f"{result['parsed_fraction']:.0%}", f"{result['accuracy']:.1f}")
    table.caption = "goal: >= 10 requests/s for a 7B-shaped model on one H100"
    Console().print(table)


if __name__ == "__main__":
    main()
