"""vLLM evaluation throughput on a GPU: short-answer MCQ requests per second.

Uses a real checkpoint (--model /models/Qwen2.5-VL-7B-Instruct) or, by default, builds a model
with Qwen2.5-VL-7B's shape and random weights (no download; the shipped tiny tokenizer, so the
vocabulary is smaller than the real one). Random weights never stop early, so every request runs
to --max-new-tokens (default 8, about what a one-letter answer plus end token costs a trained model).
Goal: >= 10 requests/s for a 7B-shaped model on one H100.

    python benchmarks/eval_gpu.py [--model PATH] [--requests 1000] [--out benchmarks/results/eval_gpu.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from itertools import islice
from pathlib import Path

# Qwen2.5-VL-7B-Instruct's dimensions (config.json of the release).
QWEN25_VL_7B = {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
                "num_key_value_heads": 4, "mrope_section": [16, 24, 24], "vision_depth": 32, "vision_hidden_size": 1280,
                "vision_intermediate_size": 3420, "vision_num_heads": 16}


def build_random_7b(out_dir: Path) -> Path:
    from lingshu.models.backbone import Backbone
    from lingshu.models.export import export_hf

    backbone = Backbone(name="qwen2_5_vl_7b_shaped", arch=QWEN25_VL_7B, dtype="bfloat16", min_pixels=3136,
                        max_pixels=1003520)
    model, processor = backbone.build()
    return Path(export_hf(model, processor, out_dir))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="HF checkpoint folder (default: a random 7B-shaped model)")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--max-new-tokens", type=int, default=8)
    ap.add_argument("--tensor-parallel-size", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/eval_gpu.json")
    args = ap.parse_args()

    from lingshu.data.demo import demo_benchmark_items
    from lingshu.engines.vllm import VLLMEngine
    from lingshu.evaluation.prompts import build_request

    workdir = tempfile.mkdtemp(prefix="lingshu_eval_gpu_")
    t0 = time.perf_counter()
    model_path = Path(args.model) if args.model else build_random_7b(Path(workdir) / "model")
    build_s = time.perf_counter() - t0
    items = list(islice(demo_benchmark_items(seed=0, num_images=args.requests, kinds=("mcq",)), args.requests))
    requests = [build_request(it, max_new_tokens=args.max_new_tokens) for it in items]

    t0 = time.perf_counter()
    engine = VLLMEngine(model_path=str(model_path), tensor_parallel_size=args.tensor_parallel_size,
                        min_pixels=3136, max_pixels=1003520)
    load_s = time.perf_counter() - t0
    engine.generate(requests[:16])  # warm-up: CUDA graphs, kernels
    t0 = time.perf_counter()
    responses = engine.generate(requests)
    gen_s = time.perf_counter() - t0
    result = {"model": str(args.model or "random Qwen2.5-VL-7B-shaped"), "requests": len(requests),
              "max_new_tokens": args.max_new_tokens, "seconds": gen_s, "requests_per_s": len(requests) / gen_s,
              "build_s": build_s, "load_s": load_s, "sample_response": responses[0][:80]}
    print(f"{'model':<36} {'requests':>8} {'seconds':>8} {'req/s':>8}")
    print(f"{result['model'][:36]:<36} {len(requests):>8} {gen_s:>8.2f} {result['requests_per_s']:>8.1f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
