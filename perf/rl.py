"""GRPO rollouts on CPU: responses/s of the HF engine and the time split of a step
(generate / score / update), on the tiny backbone and demo prompts.

    python benchmarks/rl.py [--checkpoint <hf folder>] [--steps 3] [--out benchmarks/results/rl.json]

A trained checkpoint (e.g. a demo run's train/instruction_tuning/hf) gives realistic response
lengths; without one the random model generates to `max_new_tokens`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import lightning as L
import torch
from rich.console import Console
from rich.table import Table

from lingshu.data.demo import demo_samples
from lingshu.models.backbone import Backbone, TinyArch
from lingshu.rl.data import build_prompts
from lingshu.rl.grpo import GRPOConfig, GRPOModule
from lingshu.rl.rewards import Reward


class Collect(L.Callback):
    def __init__(self):
        self.rows = []

    def on_train_batch_end(self, trainer, *_):
        self.rows.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--out", default="benchmarks/results/rl.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, proc = Backbone(arch=TinyArch()).build(args.checkpoint, seed=0)
    cfg = GRPOConfig(prompts_per_step=args.prompts, update_prompts=args.prompts, generations_per_prompt=args.generations,
                     micro_batch_size=32, max_new_tokens=args.max_new_tokens, lr=1e-5, max_steps=args.steps,
                     data={"mixture": [{"source": "demo"}], "yes_no_fraction": 0.5, "mcq_to_open": False})
    prompts, _ = build_prompts(demo_samples("train", 0, 200, 50, planted=False), cfg.data, seed=0)
    reward = Reward(name="lingshu", components={
        "accuracy": {"fn": "lingshu.rl.rewards:accuracy_reward", "weight": 1.0},
        "format": {"fn": "lingshu.rl.rewards:format_reward", "weight": 0.5}})
    loader = torch.utils.data.DataLoader(prompts, batch_size=args.prompts, shuffle=True, collate_fn=list, drop_last=True)
    collect = Collect()
    trainer = L.Trainer(accelerator="cpu", max_steps=args.steps, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[collect])
    module = GRPOModule(model, proc, reward, cfg)
    module.on_train_start = lambda: None
    trainer.fit(module, loader)
    rows = collect.rows[1:] or collect.rows  # the first step warms up
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
    responses = args.prompts * args.generations
    gen, score, update = mean["time/generate_s"], mean["time/score_s"], mean["time/update_s"]
    total = gen + score + update
    result = {"responses_per_step": responses, "responses_per_s": responses / gen,
              "tokens_per_s_generated": responses * mean["response/length_mean"] / gen,
              "generate_s": gen, "score_s": score, "update_s": update,
              "split": {"generate": gen / total, "score": score / total, "update": update / total},
              "mean_response_tokens": mean["response/length_mean"], "checkpoint": args.checkpoint}
    table = Table(title=f"GRPO step on CPU ({responses} responses, tiny backbone)")
    for col in ("phase", "seconds", "share"):
        table.add_column(col)
    for k in ("generate", "score", "update"):
        table.add_row(k, f"{result[k + '_s']:.2f}", f"{result['split'][k]:.0%}")
    table.caption = (f"{result['responses_per_s']:.1f} responses/s, {result['tokens_per_s_generated']:.0f} generated "
                     f"tokens/s, {result['mean_response_tokens']:.1f} tokens per response")
    Console().print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
