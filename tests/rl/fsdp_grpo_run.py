"""One GRPO rollout + update of the tiny model from fixed responses, unsharded (1 process) or under
FSDP2 (`--devices 2`: Lightning's ModelParallelStrategy starts the second process by rerunning this
script). Writes hf/ (exported from the shards) and each rank's logged metrics.

    python tests/rl/fsdp_grpo_run.py OUT --devices 2 [--steps 1] [--ckpt-every N]
"""

import argparse
import json
import os
import sys
from pathlib import Path

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lingshu.data.demo import demo_samples  # noqa: E402
from lingshu.models.backbone import Backbone, TinyArch  # noqa: E402
from lingshu.models.export import export_trained  # noqa: E402
from lingshu.rl.data import build_prompts  # noqa: E402
from lingshu.rl.grpo import GRPOConfig, GRPOModule  # noqa: E402
from lingshu.rl.stream import PromptDataModule  # noqa: E402
from lingshu.schema import stable_id  # noqa: E402
from lingshu.training.checkpointing import last_checkpoint, resume_path  # noqa: E402

PROMPTS = 4  # 2 with images, 2 text-only: micro-batches of two ranks differ in modality


class KeyedRollout:
    """Responses a pure function of the prompt and the response's index: the same global rollout
    whichever rank draws which prompt."""

    def __init__(self, tokenizer):
        self.end_ids = [tokenizer.convert_tokens_to_ids("<|im_end|>")]
        self.words = [tokenizer(w, add_special_tokens=False)["input_ids"] for w in ("yes", "no", "maybe so", "left")]

    def sync_weights(self, model):
        pass

    def sample(self, requests, n):
        out = []
        for r in requests:
            h = int(stable_id(r.messages[0]["content"]), 16)
            out += [self.words[(h + j) % 4] * (1 + (h + j) % 3) + self.end_ids * ((h + j) % 2) for j in range(n)]
        return out


def prompts():
    cfg = GRPOConfig(prompts_per_step=2, update_prompts=2, generations_per_prompt=2, micro_batch_size=2,
                     data={"mixture": [{"source": "demo"}], "yes_no_fraction": 1.0, "mcq_to_open": False})
    found, _ = build_prompts(demo_samples("train", 0, 12, 12, planted=False), cfg.data, seed=0)
    images = [p for p in found if p.images][:PROMPTS // 2]
    text = [p for p in found if not p.images][:PROMPTS // 2]
    return [images[0], text[0], text[1], images[1]]


class Record(L.Callback):
    def __init__(self, out: Path):
        self.out, self.rows = out, []

    def on_train_batch_end(self, trainer, module, *_):
        self.rows.append({k: float(v) for k, v in trainer.callback_metrics.items()})
        (self.out / f"metrics_rank{trainer.global_rank}.json").write_text(json.dumps(self.rows))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--devices", type=int, default=1)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--ckpt-every", type=int, default=0)
    ap.add_argument("--die-after", type=int, default=0)  # SIGKILL this process after that many steps
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, proc = Backbone(arch=TinyArch()).build(seed=0)
    # One optimizer step per pass over the rollout (a global minibatch holds each rank's k-th local one, so
    # only the whole rollout is the same minibatch on 1 and 2 ranks); the second pass reads the old log-probs.
    cfg = GRPOConfig(prompts_per_step=PROMPTS, update_prompts=PROMPTS, updates_per_rollout=2, generations_per_prompt=2,
                     micro_batch_size=2, max_new_tokens=8, lr=1e-3, temperature=0.9, max_steps=args.steps,
                     epochs=100, data={"mixture": [{"source": "demo"}]})
    reward = lambda rs, ss: [{"overall": float(len(r) % 5)} for r in rs]  # noqa: E731
    callbacks = [Record(out)]
    if args.ckpt_every:
        callbacks.append(last_checkpoint(out / "checkpoints", args.ckpt_every))
    if args.die_after:
        callbacks.append(DieAfter(args.die_after))
    strategy = "auto"
    if args.devices > 1:
        from lightning.pytorch.strategies import ModelParallelStrategy

        strategy = ModelParallelStrategy(data_parallel_size=args.devices, tensor_parallel_size=1)
    trainer = L.Trainer(accelerator="cpu", devices=args.devices, strategy=strategy, max_steps=args.steps,
                        max_epochs=100, logger=False, enable_checkpointing=bool(args.ckpt_every),
                        enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks,
                        default_root_dir=str(out))
    module = GRPOModule(model, proc, reward, cfg, world_size=trainer.world_size, seed=0,
                        rollout=KeyedRollout(proc.tokenizer))
    trainer.fit(module, datamodule=PromptDataModule(prompts(), cfg.prompts_per_step, seed=0),
                ckpt_path=resume_path(out / "checkpoints"))
    export_trained(model, proc, out / "hf", write=trainer.is_global_zero)


class DieAfter(L.Callback):
    def __init__(self, steps: int):
        self.steps = steps

    def on_train_batch_start(self, trainer, *_):  # after the previous step's checkpoint was written
        if trainer.global_step >= self.steps:
            trainer.strategy.barrier()  # every rank's checkpoint shard is on disk
            os.kill(os.getpid(), 9)


if __name__ == "__main__":
    main()
