"""SFT throughput and MFU on one GPU: a randomly initialised Qwen2.5-VL-3B-shaped model.

    python perf/sft_gpu.py [--steps 20] [--max-seq-len 8192] [--checkpointing both] [--out perf/results/sft_gpu.json]
    python perf/sft_gpu.py --tiny        # the same code path on CPU: tiny dimensions, 2 steps

The model has Qwen2.5-VL-3B-Instruct's published shape (vocabulary 151,936, window attention in
the vision tower but for blocks 7/15/23/31) in bf16, flash_attention_2 when flash-attn imports,
sdpa otherwise. A micro-batch is one row of demo samples packed to --max-seq-len tokens (images
resized to --image-pixels), every module trains (the instruction-tuning stage), AdamW and gradient
clipping as in training; the timed steps repeat that batch. MFU counts model FLOPs with
lingshu.training.flops (the Throughput callback's count) against the GPU's bf16 dense peak;
checkpointing's recomputation is not counted. Goal: >= 40% MFU on one H100.

Correctness, printed beside the figures: loss finite and falling over the steps; the packed loss of a
few samples equals their padded, one-row-per-sample loss within --tolerance (bf16).
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from transformers import Qwen2_5_VLForConditionalGeneration

from lingshu.data.collate import SFTCollator, pack_batch, pad_batch, real_tokens
from lingshu.data.demo import demo_samples
from lingshu.io import write_json
from lingshu.models.backbone import Backbone, set_activation_checkpointing
from lingshu.models.shapes import SHAPES
from lingshu.training.flops import StepFlops, batch_shape, device_peak_flops
from lingshu.training.sft import lm_loss

QWEN25_VL_VOCAB = 151936
QWEN25_VL_FULL_ATTENTION = [7, 15, 23, 31]  # the other vision blocks attend within 112 px windows


def flash_attn_works() -> bool:
    try:  # installed is not enough: a build for another torch fails on import
        import flash_attn  # noqa: F401
    except Exception:
        return False
    return True


def build(args, device: torch.device):
    """(model, processor) on `device`, initialised there (a 3B model never passes through CPU memory)."""
    cuda = device.type == "cuda"
    attn = "flash_attention_2" if cuda and flash_attn_works() else "sdpa"
    arch = SHAPES["tiny" if args.tiny else "qwen2_5_vl_3b"]
    backbone = Backbone(name="qwen2_5_vl_3b_shaped", arch=arch, min_pixels=args.image_pixels,
                        max_pixels=args.image_pixels)
    processor = backbone.processor()
    config = backbone.config(processor)
    config.vision_config.fullatt_block_indexes = [1] if args.tiny else QWEN25_VL_FULL_ATTENTION
    if not args.tiny:
        config.text_config.vocab_size = QWEN25_VL_VOCAB  # the real embedding; the tiny tokenizer uses its first ids
    torch.manual_seed(0)
    with device:
        model = Qwen2_5_VLForConditionalGeneration._from_config(
            config, dtype=torch.bfloat16 if cuda else torch.float32, attn_implementation=attn)
    return model.train(), processor


def packed_row(processor, max_seq_len: int) -> tuple[dict, list[dict]]:
    """Demo image samples (questions, captions, reports) packed into one row of <= max_seq_len tokens."""
    coll = SFTCollator(processor, max_seq_len)
    encoded, used = [], 0
    for sample in demo_samples("train", seed=0, num_images=10_000, num_text=0, planted=False):
        e = coll.encode(sample)
        if e is None or used + len(e["input_ids"]) > max_seq_len:
            break
        encoded.append(e)
        used += len(e["input_ids"])
    return pack_batch(encoded, max_seq_len, coll.pad_id, coll.merge), encoded


def model_inputs(batch: dict, device: torch.device) -> tuple[dict, torch.Tensor, torch.Tensor | None]:
    inputs = {k: v.to(device) for k, v in batch.items() if k not in ("num_samples", "labels", "segments")}
    return inputs, batch["labels"].to(device), batch.get("segments")


def train(model, batch: dict, args, device: torch.device, checkpointing: bool) -> dict:
    """--warmup untimed then --steps timed optimizer steps on `batch`; figures of the timed ones."""
    set_activation_checkpointing(model, checkpointing)
    cuda = device.type == "cuda"
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0, fused=cuda)
    inputs, labels, _ = model_inputs(batch, device)
    flops = StepFlops.from_model(model)(*batch_shape(batch))
    losses = []
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    try:
        for step in range(args.warmup + args.steps):
            if step == args.warmup:
                if cuda:
                    torch.cuda.synchronize(device)
                t0 = time.perf_counter()
            loss = lm_loss(model(**inputs, use_cache=False).logits, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.detach())
        if cuda:
            torch.cuda.synchronize(device)
        seconds = (time.perf_counter() - t0) / args.steps
    except torch.OutOfMemoryError as e:
        return {"checkpointing": checkpointing, "error": f"out of memory: {str(e).splitlines()[0]}"}
    finally:
        for p in params:
            p.grad = None
        del opt
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    losses = [x.item() for x in losses]
    tokens, visual = real_tokens(batch), int((batch["input_ids"] == model.config.image_token_id).sum())
    peak = (args.peak_tflops * 1e12 if args.peak_tflops else device_peak_flops(torch.cuda.get_device_name(device))) \
        if cuda else None
    return {"checkpointing": checkpointing, "seconds_per_step": seconds, "tokens_per_step": tokens,
            "visual_tokens_per_step": visual, "tokens_per_s": tokens / seconds,
            "text_tokens_per_s": (tokens - visual) / seconds, "visual_tokens_per_s": visual / seconds,
            "model_flops_per_step": flops, "model_tflops_per_s": flops / seconds / 1e12,
            "mfu": flops / seconds / peak if peak else None,
            "peak_mem_gb": torch.cuda.max_memory_allocated(device) / 1e9 if cuda else None,
            "losses": losses, "loss_finite": all(map(math.isfinite, losses)),
            "loss_falls": losses[-1] < losses[0]}


@torch.no_grad()
def packed_vs_padded(model, processor, encoded: list[dict], device: torch.device, tolerance: float) -> dict:
    """Token-mean loss of a few samples packed into one row and padded one per row: equal up to
    rounding. The control, the packed row without its restarting positions (samples see each other),
    shows how far apart broken packing would be: a check is only as sharp as that distance."""
    coll = SFTCollator(processor)
    few = encoded[:4]
    packed = pack_batch(few, 1 << 30, coll.pad_id, coll.merge)
    leaky = {k: v for k, v in packed.items() if k != "position_ids"}
    losses = {}
    model.eval()
    for name, batch in (("packed", packed), ("padded", pad_batch(few, coll.pad_id)), ("control", leaky)):
        inputs, labels, _ = model_inputs(batch, device)
        losses[name] = lm_loss(model(**inputs, use_cache=False).logits, labels).item()
    model.train()
    rel = abs(losses["packed"] - losses["padded"]) / abs(losses["padded"])
    control = abs(losses["control"] - losses["padded"]) / abs(losses["padded"])
    return {**losses, "relative_difference": rel, "control_relative_difference": control, "tolerance": tolerance,
            "equal": rel <= tolerance}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="tiny dimensions, runs on CPU (checks the code path)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 20; --tiny 2)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 3; --tiny 1)")
    ap.add_argument("--max-seq-len", type=int, default=None, help="packed row length (default 8192; --tiny 1024)")
    ap.add_argument("--image-pixels", type=int, default=None, help="every image resized to about this many pixels "
                    "(default 448*448: 256 visual tokens; --tiny 224*224)")
    ap.add_argument("--checkpointing", choices=["off", "on", "both"], default=None,
                    help="gradient checkpointing (default both: on, then off, which may run out of memory; --tiny off)")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--tolerance", type=float, default=None, help="packed vs padded loss, relative (bf16: 2e-2)")
    ap.add_argument("--peak-tflops", type=float, default=None, help="bf16 dense peak (default: by GPU name)")
    ap.add_argument("--out", default=None, help="JSON results (default perf/results/sft_gpu[_tiny].json)")
    args = ap.parse_args(argv)
    tiny = args.tiny
    defaults = dict(steps=(2, 20), warmup=(1, 3), max_seq_len=(1024, 8192), image_pixels=(224 * 224, 448 * 448),
                    checkpointing=("off", "both"), out=("perf/results/sft_gpu_tiny.json", "perf/results/sft_gpu.json"))
    for k, (small, full) in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, small if tiny else full)
    if not torch.cuda.is_available() and not tiny:
        raise SystemExit("perf/sft_gpu.py needs a CUDA GPU (none visible); "
                         "`--tiny` runs the same code path on CPU with tiny dimensions")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.tolerance is None:
        args.tolerance = 2e-2 if device.type == "cuda" else 1e-4  # bf16 on GPU, float32 on CPU

    model, processor = build(args, device)
    batch, encoded = packed_row(processor, args.max_seq_len)
    runs = [train(model, batch, args, device, ckpt) for ckpt in
            {"off": [False], "on": [True], "both": [True, False]}[args.checkpointing]]
    check = packed_vs_padded(model, processor, encoded, device, args.tolerance)
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "model": "tiny" if tiny else "Qwen2.5-VL-3B-shaped (random init)",
              "attn_implementation": model.config._attn_implementation, "dtype": str(model.dtype),
              "parameters": sum(p.numel() for p in model.parameters()), "max_seq_len": args.max_seq_len,
              "samples_per_row": len(encoded), "images_per_row": len(batch.get("image_grid_thw", [])),
              "image_pixels": args.image_pixels, "runs": runs, "packed_vs_padded": check}
    report(result)
    write_json(Path(args.out), result)
    print(f"wrote {args.out}")
    return result


def report(result: dict) -> None:
    table = Table(title=f"SFT step, {result['model']}, {result['attn_implementation']}, {result['device']}")
    for col in ("checkpointing", "s/step", "tokens/s", "text tok/s", "visual tok/s", "model TFLOP/s", "MFU",
                "peak mem GB", "loss first -> last"):
        table.add_column(col)
    for r in result["runs"]:
        if "error" in r:
            table.add_row(str(r["checkpointing"]), r["error"][:60], *[""] * 7)
            continue
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a (no GPU peak)"
        mem = f"{r['peak_mem_gb']:.1f}" if r["peak_mem_gb"] is not None else "n/a"
        table.add_row(str(r["checkpointing"]), f"{r['seconds_per_step']:.3f}", f"{r['tokens_per_s']:,.0f}",
                      f"{r['text_tokens_per_s']:,.0f}", f"{r['visual_tokens_per_s']:,.0f}",
                      f"{r['model_tflops_per_s']:.3g}", mfu, mem,
                      f"{r['losses'][0]:.3f} -> {r['losses'][-1]:.3f}" + ("" if r["loss_falls"] and r["loss_finite"] else " (!)"))
    c = result["packed_vs_padded"]
    table.caption = (f"{result['samples_per_row']} samples ({result['images_per_row']} images) packed in one "
                     f"{result['max_seq_len']}-token row; packed vs padded loss {c['packed']:.4f} vs {c['padded']:.4f} "
                     f"(relative {c['relative_difference']:.1e}, {'ok' if c['equal'] else 'MISMATCH'}; broken packing: "
                     f"{c['control_relative_difference']:.1e}); goal MFU >= 40% on H100")
    Console(width=160).print(table)


if __name__ == "__main__":
    result = main()
    ok = result["packed_vs_padded"]["equal"] and all(r.get("loss_falls") and r.get("loss_finite")
                                                     for r in result["runs"] if "error" not in r)
    sys.exit(0 if ok else 1)
