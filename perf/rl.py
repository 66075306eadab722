"""GRPO steps on CPU, tiny backbone and demo prompts, three comparisons in one run:

1. responses/s of the HF engine and the time split of a step (generate / score / update);
2. the avoidable work removed from a step: the first minibatch's old-log-prob forward (its ratio is
   exactly 1) and re-processing each prompt's images for every response's log-prob pass, against
   the step that still does both ("before");
3. a step under FSDP2 with 2 processes (`trainer=fsdp`) against the unsharded step on 1 process
   (same global rollout; one thread per process: on a shared CPU, multi-threaded kernels spin).

    python perf/rl.py [--checkpoint <hf folder>] [--steps 3] [--out perf/results/rl.json]

A trained checkpoint (e.g. a demo run's train/instruction_tuning/hf) gives realistic response
lengths; without one the random model generates to `max_new_tokens`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import lightning as L
import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lingshu.data.demo import demo_samples  # noqa: E402
from lingshu.io import write_json  # noqa: E402
from lingshu.logs import quiet  # noqa: E402
from lingshu.models.backbone import Backbone, TinyArch  # noqa: E402
from lingshu.rl.data import build_prompts  # noqa: E402
from lingshu.rl.grpo import GRPOConfig, GRPOModule, encode_rollout  # noqa: E402
from lingshu.rl.rewards import Reward  # noqa: E402
from lingshu.rl.stream import PromptDataModule  # noqa: E402
from common import metrics_collector  # noqa: E402  perf/ (this script's folder)


class WithoutSpeedups(GRPOModule):
    """The step before the speed-ups: every response's prompt (and images) encoded again for the
    log-prob passes, and the behaviour log-probs of every chunk from their own forward."""

    def encode_chunks(self, requests, responses):
        n, mb = self.cfg.generations_per_prompt, self.cfg.micro_batch_size
        expanded = [r for r in requests for _ in range(n)]
        return [encode_rollout(self.processor, expanded[i:i + mb], responses[i:i + mb], self.rollout_engine.end_ids,
                               self.device)
                for i in range(0, len(expanded), mb)]

    def score_logprobs(self, chunks, skip_old=0):
        super().score_logprobs(chunks, skip_old=0)


def setup(args):
    cfg = GRPOConfig(prompts_per_step=args.prompts, update_prompts=args.prompts // 2, generations_per_prompt=args.generations,
                     micro_batch_size=args.micro_batch, max_new_tokens=args.max_new_tokens, lr=1e-5,
                     max_steps=args.steps * 2, epochs=100,
                     data={"mixture": [{"source": "demo"}], "yes_no_fraction": 0.5, "mcq_to_open": False})
    prompts, _ = build_prompts(demo_samples("train", 0, 200, 50, planted=False), cfg.data, seed=0)
    reward = Reward(name="lingshu", components={
        "accuracy": {"fn": "lingshu.rl.rewards:accuracy_reward", "weight": 1.0},
        "format": {"fn": "lingshu.rl.rewards:format_reward", "weight": 0.5}})
    return cfg, prompts, reward


def run_steps(args, module_cls=GRPOModule, devices: int = 1) -> list[dict]:
    """`args.steps` rollouts; per step the slowest rank's phase times (the metrics are synced)."""
    cfg, prompts, reward = setup(args)
    model, proc = Backbone(arch=TinyArch()).build(args.checkpoint, seed=0)
    strategy = "auto"
    if devices > 1:
        from lightning.pytorch.strategies import ModelParallelStrategy

        strategy = ModelParallelStrategy(data_parallel_size=devices, tensor_parallel_size=1)
    collect = metrics_collector()
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy=strategy, max_steps=cfg.max_steps, max_epochs=100,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[collect])
    module = module_cls(model, proc, reward, cfg, world_size=trainer.world_size, seed=0)
    module.on_train_start = lambda: None
    trainer.fit(module, datamodule=PromptDataModule(prompts, cfg.prompts_per_step, seed=0))
    return collect.rows if trainer.is_global_zero else []


def step_times(rows: list[dict]) -> dict:
    """The fastest step after the first (warm-up): on a shared CPU the minimum is the least noisy."""
    rows = rows[1:] or rows
    best = min(rows, key=lambda r: sum(r[f"time/{k}_s"] for k in ("generate", "score", "update")))
    out = {k: best[f"time/{k}_s"] for k in ("generate", "score", "update")}
    out["step"] = sum(out.values())
    out["score_and_update"] = out["score"] + out["update"]  # what the speed-ups change
    out["mean_response_tokens"] = best["response/length_mean"]
    return out


def fastest(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["step"])


def in_subprocess(args, devices: int, threads: int) -> dict:
    """A fresh process (Lightning starts the other rank by rerunning it) running `run_steps`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [sys.executable, __file__, "--worker", str(out), "--devices", str(devices), "--threads", str(threads),
               *(f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
                 if k in ("steps", "prompts", "generations", "max_new_tokens", "micro_batch") and v is not None)]
        if args.checkpoint:
            cmd.append(f"--checkpoint={args.checkpoint}")
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        return step_times(json.loads(out.read_text()))


def main() -> None:
    quiet()  # a run's console: no Lightning adverts or unactionable third-party warnings
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--micro-batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default="perf/results/rl.json")
    ap.add_argument("--worker", default=None)  # internal: run steps here, write the rows there
    ap.add_argument("--devices", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.worker:
        torch.set_num_threads(args.threads)
        rows = run_steps(args, devices=args.devices)
        if rows:
            Path(args.worker).write_text(json.dumps(rows))
        return
    torch.set_num_threads(2)
    runs: dict[str, list[dict]] = {"after": [], "before": [], "unsharded": [], "sharded": []}
    for _ in range(args.repeats):  # interleaved, so load from other processes hits every variant alike
        runs["after"].append(step_times(run_steps(args)))
        runs["before"].append(step_times(run_steps(args, WithoutSpeedups)))
        runs["unsharded"].append(in_subprocess(args, devices=1, threads=1))
        runs["sharded"].append(in_subprocess(args, devices=2, threads=1))
    after, before, unsharded, sharded = (fastest(runs[k]) for k in ("after", "before", "unsharded", "sharded"))
    responses = args.prompts * args.generations
    result = {"responses_per_step": responses, "responses_per_s": responses / after["generate"],
              "tokens_per_s_generated": responses * after["mean_response_tokens"] / after["generate"],
              "step": after, "without_speedups": before, "speedup": before["step"] / after["step"],
              "speedup_score_and_update": before["score_and_update"] / after["score_and_update"],
              "unsharded_1_process": unsharded, "fsdp2_2_processes": sharded,
              "sharded_over_unsharded": sharded["step"] / unsharded["step"], "checkpoint": args.checkpoint}
    table = Table(title=f"GRPO step on CPU ({responses} responses, tiny backbone), seconds")
    for col in ("phase", "this step", "without speed-ups", "unsharded (1 proc)", "FSDP2 (2 procs)"):
        table.add_column(col, justify="right")
    for k in ("generate", "score", "update", "score_and_update", "step"):
        table.add_row(k, *(f"{r[k]:.3f}" for r in (after, before, unsharded, sharded)))
    table.caption = (f"speed-ups {result['speedup']:.2f}x per step, {result['speedup_score_and_update']:.2f}x on score + "
                     f"update; FSDP2 / unsharded {result['sharded_over_unsharded']:.2f}x (fastest of {args.repeats}); "
                     f"{result['responses_per_s']:.1f} responses/s, {after['mean_response_tokens']:.1f} tokens per response")
    Console().print(table)
    write_json(Path(args.out), result)


if __name__ == "__main__":
    main()
