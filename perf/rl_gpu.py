"""GRPO rollouts on one GPU: colocated vLLM against HF generate on the same prompts, weight sync,
and two GRPO steps with vLLM rollouts.

A Qwen2.5-VL-3B-shaped model with random weights (`lingshu.models.shapes`, the shipped tiny
tokenizer) answers `--prompts` demo prompts (every fourth one with two images) `--generations`
times through both rollout engines GRPO uses (`lingshu.rl.rollout`):
- hf: `generate` on the policy, `--hf-batch` sequences at a time;
- vllm: in this process on the same GPU with `--gpu-memory-utilization` of its memory, started
  from dummy weights and given the policy's weights by a push.
Reported: responses/s and generated tokens/s of each (tokens/s per GPU: one GPU here), the
speed-up (goal >= 10x) and the push time. Checks (exit 1 if one fails):
- stops: every vLLM response shorter than the token limit ends with an end token (GRPO masks on it);
- grpo: two GRPO steps with vLLM rollouts run and push the weights before each rollout;
- sync: after a push, vLLM's log-probs of its own greedy response (a two-image prompt) match the
  policy's (HF forward) within --logprob-tol (mean absolute gap); the policy perturbed and not yet
  pushed misses by over 5x that; pushed, it matches again.
Random weights rarely emit an end token, so most responses run to --max-new-tokens.

    python perf/rl_gpu.py [--prompts 32] [--generations 8] [--max-new-tokens 128] [--out ...]
    python perf/rl_gpu.py --dry-run   # CPU, tiny model: everything but vLLM (the tests run this)
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.metadata
import json
import sys
import time
import traceback
from pathlib import Path

import lightning as L
import torch
from common import metrics_collector  # perf/ (this script's folder)
from gpu_inputs import resized
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader

from lingshu.data.demo import demo_samples
from lingshu.engines.base import GenerationRequest
from lingshu.engines.vllm import unavailable
from lingshu.logs import quiet
from lingshu.models.shapes import shaped_model
from lingshu.rl.data import RLData, build_prompts
from lingshu.rl.grpo import GRPOConfig, GRPOModule, encode_rollout, token_logprobs
from lingshu.rl.rewards import Reward
from lingshu.rl.rollout import HFRollout, RolloutConfig, VLLMRollout
from lingshu.schema import IMAGE_TOKEN

DRY_RUN = {"prompts": 4, "generations": 2, "max_new_tokens": 8, "hf_batch": 4, "image_size": 56,
           "grpo_prompts": 2, "grpo_generations": 2, "grpo_max_new_tokens": 6}


def demo_prompts(count: int, image_size: int) -> list:
    """`count` RL prompts from the demo images at `image_size` px; every fourth also shows the next prompt's image."""
    data = RLData(mixture=[{"source": "demo"}], yes_no_fraction=0.5, mcq_to_open=False, balance=False)
    pool, _ = build_prompts(demo_samples("train", 0, count + 8, 0, planted=False), data, seed=0)
    pool = [p for p in pool if p.images]
    out = []
    for i, p in enumerate(pool[:count]):
        images = [resized(b, image_size) for b in p.images]
        content = p.messages[0]["content"]
        if i % 4 == 3:
            images.append(resized(pool[i + 1].images[0], image_size))
            content = content.replace(IMAGE_TOKEN, IMAGE_TOKEN * 2, 1)
        out.append(dataclasses.replace(p, images=images, messages=[{"role": "user", "content": content}]))
    return out


def requests_for(prompts, max_new_tokens: int, n: int) -> list[GenerationRequest]:
    return [GenerationRequest(messages=p.messages, images=p.images, max_new_tokens=max_new_tokens, temperature=1.0,
                              top_p=1.0, seed=i * n) for i, p in enumerate(prompts)]


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed_sample(rollout, requests, n: int) -> tuple[dict, list[list[int]]]:
    synchronize()
    t0 = time.perf_counter()
    ids = rollout.sample(requests, n)
    synchronize()
    seconds = time.perf_counter() - t0
    tokens = sum(map(len, ids))
    return {"seconds": seconds, "responses": len(ids), "tokens": tokens, "responses_per_s": len(ids) / seconds,
            "tokens_per_s": tokens / seconds, "mean_tokens": tokens / len(ids)}, ids


def warm_up(rollout, requests) -> None:
    """Kernels, allocator and (vLLM) compiled graphs, outside the timings."""
    rollout.sample([dataclasses.replace(r, max_new_tokens=4) for r in requests[:4]], 2)


def grpo_steps(model, processor, rollout, prompts, args, device: str) -> dict:
    """Two GRPO steps with `rollout` generating; counts the weight pushes."""
    pushes = []
    push = rollout.sync_weights
    rollout.sync_weights = lambda m: (pushes.append(time.perf_counter()), push(m))  # counted; undone below
    p, g = args.grpo_prompts, args.grpo_generations
    cfg = GRPOConfig(prompts_per_step=p, update_prompts=p, generations_per_prompt=g, micro_batch_size=p * g,
                     max_new_tokens=args.grpo_max_new_tokens, lr=1e-5, max_steps=2,
                     data={"mixture": [{"source": "demo"}]},
                     rollout={"engine": "vllm" if isinstance(rollout, VLLMRollout) else "hf"})
    reward = Reward(name="lingshu", components={
        "accuracy": {"fn": "lingshu.rl.rewards:accuracy_reward", "weight": 1.0},
        "format": {"fn": "lingshu.rl.rewards:format_reward", "weight": 0.5}})
    collect = metrics_collector()
    trainer = L.Trainer(accelerator="cpu" if device == "cpu" else "gpu", devices=1, max_steps=2, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[collect])
    module = GRPOModule(model, processor, reward, cfg, rollout=rollout)
    t0 = time.perf_counter()
    try:
        trainer.fit(module, DataLoader(prompts[:2 * p], batch_size=p, collate_fn=list))
    finally:
        del rollout.sync_weights
    seconds = time.perf_counter() - t0
    del trainer, module
    gc.collect()
    model.to(device)  # the trainer hands the model back on the CPU
    last = collect.rows[-1]
    return {"steps": len(collect.rows), "pushes": len(pushes), "seconds": seconds,
            "reward": last["reward/overall"], "kl": last["policy/kl"],
            "time_split_s": {k: last[f"time/{k}_s"] for k in ("generate", "score", "update")},
            "ok": len(collect.rows) == 2 and len(pushes) == 2}


def vllm_greedy(rollout, request) -> tuple[list[int], list[float]]:
    """vLLM's greedy response to `request` and its log-probs (raw model output, as training sees it)."""
    from vllm import SamplingParams

    engine = rollout.engine
    engine.wake_up()
    params = SamplingParams(temperature=0.0, max_tokens=request.max_new_tokens, logprobs=0,
                            stop_token_ids=engine.end_ids, logit_bias=dict(engine.logit_bias))
    out = engine.llm.generate([engine.prompt(request)], params, use_tqdm=False)[0].outputs[0]
    ids = list(out.token_ids)
    return ids, [out.logprobs[k][t].logprob for k, t in enumerate(ids)]


@torch.no_grad()
def policy_logprobs(model, processor, request, ids: list[int], end_ids, device: str) -> list[float]:
    model.eval()
    lp, _ = token_logprobs(model, encode_rollout(processor, [request], [ids], end_ids, device))
    return lp[0, :len(ids)].float().tolist()


def gap(a: list[float], b: list[float]) -> float:
    return sum(abs(x - y) for x, y in zip(a, b)) / max(1, len(a))


@torch.no_grad()
def perturb(model, scale: float = 0.5) -> None:
    """A visibly different policy: noise of `scale` x each matrix's own spread."""
    for p in model.parameters():
        if p.dim() >= 2:
            p.add_(torch.randn_like(p) * p.float().std().to(p.dtype) * scale)


def sync_check(model, processor, rollout, request, tol: float, device: str) -> dict:
    greedy = dataclasses.replace(request, temperature=0.0, max_new_tokens=32)
    end_ids = rollout.end_ids
    rollout.sync_weights(model)
    ids, vllm_lp = vllm_greedy(rollout, greedy)
    synced = gap(vllm_lp, policy_logprobs(model, processor, greedy, ids, end_ids, device))
    perturb(model)
    stale = gap(vllm_lp, policy_logprobs(model, processor, greedy, ids, end_ids, device))
    rollout.sync_weights(model)
    ids2, vllm_lp2 = vllm_greedy(rollout, greedy)
    repushed = gap(vllm_lp2, policy_logprobs(model, processor, greedy, ids2, end_ids, device))
    return {"mean_abs_logprob_gap": {"synced": synced, "stale": stale, "after_second_push": repushed},
            "tokens_compared": len(ids), "response_changed_after_push": ids != ids2, "tol": tol,
            "ok": synced < tol and repushed < tol and stale > 5 * tol}  # perturbed: ~1.1 (measured, CPU)


def start_vllm(model, processor, args) -> VLLMRollout:
    return VLLMRollout(model, processor, RolloutConfig(
        engine="vllm", gpu_memory_utilization=args.gpu_memory_utilization, enable_sleep_mode=args.sleep_mode,
        enforce_eager=args.enforce_eager))


def vllm_throughput(model, rollout: VLLMRollout, requests, args) -> dict:
    t0 = time.perf_counter()
    rollout.sync_weights(model)
    synchronize()
    push_s = time.perf_counter() - t0
    warm_up(rollout, requests)
    stats, ids = timed_sample(rollout, requests, args.generations)
    unended = sum(1 for r in ids if len(r) < args.max_new_tokens and r[-1] not in rollout.end_ids)
    return {**stats, "push_s": push_s, "unended_short_responses": unended, "ok": unended == 0}


def attempt(result: dict, name: str, fn, out: Path):
    """Run one section and record it (with its seconds) in `result`; a failure is recorded, not raised,
    so the other measurements still land. Returns what `fn` returned (None on failure)."""
    t0 = time.perf_counter()
    try:
        value = fn()
        result[name] = {"section_s": time.perf_counter() - t0, **(value if isinstance(value, dict) else {})}
    except Exception as e:  # noqa: BLE001 - the report names it; the exit code reflects it
        result[name] = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-3000:]}
        value = None
    out.write_text(json.dumps(result, indent=2))
    return value


def main() -> None:
    quiet()  # a run's console: no Lightning adverts or unactionable third-party warnings
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="qwen2_5_vl_3b")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--hf-batch", type=int, default=64, help="sequences per HF generate call")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.35)
    ap.add_argument("--sleep-mode", action="store_true", help="vLLM releases its memory between rollouts")
    ap.add_argument("--enforce-eager", action="store_true", help="vLLM without CUDA graphs")
    ap.add_argument("--grpo-prompts", type=int, default=4)
    ap.add_argument("--grpo-generations", type=int, default=4)
    ap.add_argument("--grpo-max-new-tokens", type=int, default=32)
    ap.add_argument("--logprob-tol", type=float, default=0.1, help="mean |log-prob gap| allowed after a push")
    ap.add_argument("--out", default="perf/results/rl_gpu.json")
    ap.add_argument("--skip-vllm", action="store_true", help="GPU without vLLM: HF rollouts and GRPO steps only")
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny model, small sizes, no vLLM")
    args = ap.parse_args()
    if args.dry_run:
        vars(args).update(DRY_RUN, shape="tiny", skip_vllm=True)
    elif reason := ("no CUDA device" if not torch.cuda.is_available() else None if args.skip_vllm else unavailable()):
        print(f"rl_gpu: needs a CUDA GPU with vLLM ({reason}); --skip-vllm runs the HF side on a GPU, --dry-run "
              "all but vLLM on CPU", file=sys.stderr)
        sys.exit(2)
    device = "cpu" if args.dry_run else "cuda"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    L.seed_everything(0, verbose=False)

    result: dict = {"shape": args.shape, "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
                    "dry_run": args.dry_run, "settings": {k: v for k, v in vars(args).items() if k != "out"}}
    model, processor = shaped_model(args.shape, device=device, dtype="float32" if args.dry_run else "bfloat16",
                                    max_pixels=max(3136, args.image_size ** 2))
    prompts = demo_prompts(max(args.prompts, 2 * args.grpo_prompts), args.image_size)
    requests = requests_for(prompts[:args.prompts], args.max_new_tokens, args.generations)
    result["params_b"] = sum(p.numel() for p in model.parameters()) / 1e9

    hf = HFRollout(model, processor, batch_size=args.hf_batch)
    warm_up(hf, requests)
    attempt(result, "hf", lambda: timed_sample(hf, requests, args.generations)[0], out)
    rollout = hf
    if not args.skip_vllm:
        gc.collect()
        torch.cuda.empty_cache()
        rollout = attempt(result, "vllm_start", lambda: start_vllm(model, processor, args), out) or hf
    if isinstance(rollout, VLLMRollout):
        vllm = attempt(result, "vllm", lambda: vllm_throughput(model, rollout, requests, args), out)
        if vllm and "tokens_per_s" in result.get("hf", {}):
            result["speedup_tokens_per_s"] = vllm["tokens_per_s"] / result["hf"]["tokens_per_s"]
            result["goal_10x_met"] = result["speedup_tokens_per_s"] >= 10
    if args.skip_vllm or isinstance(rollout, VLLMRollout):
        attempt(result, "grpo", lambda: grpo_steps(model, processor, rollout, prompts, args, device), out)
    if isinstance(rollout, VLLMRollout):
        attempt(result, "sync", lambda: sync_check(model, processor, rollout, requests[3], args.logprob_tol, device),
                out)
    result["versions"] = {"torch": torch.__version__}
    if not args.skip_vllm:
        result["versions"]["vllm"] = importlib.metadata.version("vllm")
    out.write_text(json.dumps(result, indent=2))
    report(result)
    failed = [k for k, v in result.items() if isinstance(v, dict) and v.get("ok") is False]
    if failed:
        sys.exit(f"rl_gpu: failed: {', '.join(failed)} (details in {out})")


def report(result: dict) -> None:
    table = Table(title=f"GRPO rollouts, {result['shape']} ({result['params_b']:.2f}B params) on {result['device']}")
    for col in ("engine", "responses", "seconds", "responses/s", "tokens/s", "tokens/response"):
        table.add_column(col)
    for name in ("hf", "vllm"):
        r = result.get(name)
        if r and "seconds" in r:
            table.add_row(name, str(r["responses"]), f"{r['seconds']:.2f}", f"{r['responses_per_s']:.1f}",
                          f"{r['tokens_per_s']:.0f}", f"{r['mean_tokens']:.1f}")
        elif r:
            table.add_row(name, "failed: " + r["error"][:60], "", "", "", "")
    notes = []
    if "speedup_tokens_per_s" in result:
        notes.append(f"vLLM speed-up {result['speedup_tokens_per_s']:.1f}x (goal >= 10x), start "
                     f"{result['vllm_start']['section_s']:.0f} s, push {result['vllm']['push_s']:.2f} s")
    for name in ("grpo", "sync"):
        if name in result:
            notes.append(f"{name}: {'ok' if result[name].get('ok') else 'FAILED'}")
    table.caption = "; ".join(notes)
    Console().print(table)


if __name__ == "__main__":
    main()
