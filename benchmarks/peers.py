"""lingshu side by side with the tools its users would pick instead, on CPU.

    pip install -e ".[peers]"      # trl, datatrove (+ spaCy, datatrove's default English tokenizer)
    python benchmarks/peers.py [--only sft grpo dedup mcq] [--repeats 3] [--out benchmarks/results/peers.json]

Each measure runs lingshu's public functions and the peer on the same weights (the tiny Qwen2.5-VL,
one random init saved as an HF folder both load), the same data and shapes; the two systems
alternate, --repeats times each, every run in a fresh process on the same cores, and the table shows
min and median time and lingshu / peer (below 1: lingshu is faster). A peer that is not installed
is skipped with one line. What each side does differently is printed under the table.

  sft    one SFT optimizer step, end to end (each side's own collator): SFTModule under Lightning
         vs TRL's SFTTrainer on prompt/completion rows (loss on the completion only, as lingshu).
  grpo   one GRPO step (rollout, reward, update): GRPOModule vs TRL's GRPOTrainer, same prompts,
         group size, response length, reward.
  dedup  near-duplicate text dedup of a planted corpus (benchmarks/curation.py's): the paper's
         MinHash op through the curation runner vs datatrove's 4 MinHash stages, one core each;
         also recall (pairs at Jaccard >= 0.85 found) and precision.
  mcq    scoring MCQ predictions: lingshu's extraction + verdict vs lmms-eval's MMMU parser.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling benchmark scripts

THREADS = 2


def version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


# -- running: fresh process per run, output of the peers' loggers kept out of the table --------------
def _child(fn, args, queue, log) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    import torch

    torch.set_num_threads(THREADS)
    try:
        queue.put(("ok", fn(*args)))
    except BaseException as e:  # noqa: BLE001 - reported in the table, the other measures go on
        queue.put(("error", f"{type(e).__name__}: {e}"))


def in_subprocess(fn, *args, log: Path) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue, str(log)))
    proc.start()
    status, value = queue.get()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{fn.__name__}: {value} (log: {log})")
    return value


# -- shared inputs -------------------------------------------------------------------------------------
def tiny_checkpoint(root: Path) -> Path:
    """The tiny backbone (seed 0) as an HF folder: both sides start from these weights."""
    from lingshu.models.backbone import Backbone, TinyArch
    from lingshu.models.export import export_hf

    out = root / "tiny-hf"
    if not (out / "config.json").exists():
        model, proc = Backbone(arch=TinyArch()).build(seed=0)
        export_hf(model, proc, out)
    return out


def load_tiny(ckpt: Path):
    from lingshu.models.backbone import Backbone

    return Backbone(path=str(ckpt)).build(str(ckpt))


def sft_samples(n: int):
    from lingshu.data.demo import demo_samples

    return [s for s in demo_samples("train", 0, 200, 50, planted=False) if s.kind != "caption"][:n]


# -- sft --------------------------------------------------------------------------------------------
SFT_BATCH, SFT_WARMUP, SFT_LR = 16, 3, 5e-4


def lingshu_sft(ckpt: str, steps: int) -> float:
    import torch

    from lingshu.data.collate import SFTCollator
    from lingshu.training.sft import SFTModule
    from lingshu.training.stage import Stage

    model, proc = load_tiny(Path(ckpt))
    samples = sft_samples(SFT_BATCH * (steps + SFT_WARMUP))
    loader = torch.utils.data.DataLoader(samples, batch_size=SFT_BATCH, collate_fn=SFTCollator(proc))
    stage = Stage(name="peers", lr={"vision": SFT_LR, "projector": SFT_LR, "llm": SFT_LR}, warmup_steps=0,
                  micro_batch_size=SFT_BATCH, grad_accum=1, data={"mixture": [{"source": "demo"}]})
    timer = LightningTimer(SFT_WARMUP)
    trainer = L.Trainer(accelerator="cpu", max_steps=steps + SFT_WARMUP, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, gradient_clip_val=1.0, callbacks=[timer])
    module = SFTModule(model, stage)
    module.on_train_start = lambda: None  # no start-up table in a benchmark
    trainer.fit(module, loader)
    return timer.seconds / steps


class LightningTimer(L.Callback):
    """Wall time from the start of step `warmup` to the end of training."""

    def __init__(self, warmup: int):
        self.warmup, self.t0, self.seconds = warmup, None, None

    def on_train_batch_start(self, trainer, *_):
        if trainer.global_step == self.warmup and self.t0 is None:
            self.t0 = time.perf_counter()

    def on_train_end(self, *_):
        self.seconds = time.perf_counter() - self.t0


class HFTimer(TrainerCallback):
    """The same for a transformers Trainer (TRL's trainers)."""

    def __init__(self, warmup: int):
        self.warmup, self.t0, self.seconds = warmup, None, None

    def on_step_begin(self, args, state, control, **kw):
        if state.global_step == self.warmup and self.t0 is None:
            self.t0 = time.perf_counter()

    def on_train_end(self, args, state, control, **kw):
        self.seconds = time.perf_counter() - self.t0


def trl_sft_rows(samples) -> list[dict]:
    """Prompt/completion rows in TRL's conversational vision format, images as PIL."""
    from lingshu.data.collate import decode_image
    from lingshu.schema import IMAGE_TOKEN

    rows = []
    for s in samples:
        user = next(m["content"] for m in s.messages if m["role"] == "user")
        answer = next(m["content"] for m in s.messages if m["role"] == "assistant")
        content = [{"type": "image"} for _ in s.images] + [{"type": "text", "text": user.replace(IMAGE_TOKEN, "").strip()}]
        rows.append({"prompt": [{"role": "user", "content": content}],
                     "completion": [{"role": "assistant", "content": [{"type": "text", "text": answer}]}],
                     "images": [decode_image(b) for b in s.images]})
    return rows


def trl_sft(ckpt: str, steps: int) -> float:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, proc = load_tiny(Path(ckpt))
    rows = trl_sft_rows(sft_samples(SFT_BATCH * (steps + SFT_WARMUP)))
    data = Dataset.from_list(rows)
    timer = HFTimer(SFT_WARMUP)
    with tempfile.TemporaryDirectory() as out:
        cfg = SFTConfig(output_dir=out, per_device_train_batch_size=SFT_BATCH, max_steps=steps + SFT_WARMUP,
                        learning_rate=SFT_LR, lr_scheduler_type="constant", warmup_steps=0, max_grad_norm=1.0,
                        gradient_checkpointing=False, use_cpu=True, report_to="none", save_strategy="no",
                        logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0, max_length=None,
                        shuffle_dataset=False, seed=0)
        trainer = SFTTrainer(model=model, args=cfg, train_dataset=data, processing_class=proc, callbacks=[timer])
        trainer.train()
    return timer.seconds / steps


SFT_NOTES = ("sft: same weights, 16 demo VQA/MCQ/text samples a step, AdamW, lr 5e-4 constant, clip 1.0, fp32, no "
             "gradient checkpointing (TRL's default is on: switched off), loss on answer tokens only; lingshu pads "
             "with SFTCollator under Lightning, TRL's vision collator re-renders the chat through the processor "
             "every step; s/step after 3 warm-up steps")


# -- grpo -----------------------------------------------------------------------------------------------
GRPO_PROMPTS, GRPO_GROUP, GRPO_TOKENS, GRPO_MICRO, GRPO_WARMUP, GRPO_LR, GRPO_KL = 8, 8, 40, 32, 1, 1e-5, 1e-3


def grpo_prompts():
    from lingshu.data.demo import demo_samples
    from lingshu.rl.data import RLData, build_prompts

    data = RLData(mixture=[{"source": "demo"}], yes_no_fraction=0.5, mcq_to_open=False)
    return build_prompts(demo_samples("train", 0, 200, 50, planted=False), data, seed=0)[0]


def grpo_reward():
    from lingshu.rl.rewards import Reward

    return Reward(name="lingshu", components={
        "accuracy": {"fn": "lingshu.rl.rewards:accuracy_reward", "weight": 1.0},
        "format": {"fn": "lingshu.rl.rewards:format_reward", "weight": 0.5}})


def lingshu_grpo(ckpt: str, steps: int) -> float:
    import torch

    from lingshu.rl.grpo import GRPOConfig, GRPOModule

    model, proc = load_tiny(Path(ckpt))
    cfg = GRPOConfig(prompts_per_step=GRPO_PROMPTS, update_prompts=GRPO_PROMPTS, generations_per_prompt=GRPO_GROUP,
                     micro_batch_size=GRPO_MICRO, max_new_tokens=GRPO_TOKENS, lr=GRPO_LR, kl_coef=GRPO_KL,
                     max_steps=steps + GRPO_WARMUP, data={"mixture": [{"source": "demo"}]})
    loader = torch.utils.data.DataLoader(grpo_prompts(), batch_size=GRPO_PROMPTS, shuffle=False, collate_fn=list,
                                         drop_last=True)
    timer = LightningTimer(GRPO_WARMUP)
    trainer = L.Trainer(accelerator="cpu", max_steps=steps + GRPO_WARMUP, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[timer])
    module = GRPOModule(model, proc, grpo_reward(), cfg)
    module.on_train_start = lambda: None
    trainer.fit(module, loader)
    return timer.seconds / steps


def trl_grpo(ckpt: str, steps: int) -> float:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from lingshu.data.collate import decode_image
    from lingshu.schema import IMAGE_TOKEN

    model, proc = load_tiny(Path(ckpt))
    prompts, reward = grpo_prompts(), grpo_reward()
    rows = []
    for i, s in enumerate(prompts):
        text = s.messages[0]["content"].replace(IMAGE_TOKEN, "").strip()
        rows.append({"prompt": [{"role": "user", "content": [{"type": "image"} for _ in s.images]
                                 + [{"type": "text", "text": text}]}],
                     "images": [decode_image(b) for b in s.images], "index": i})

    def lingshu_reward(prompts, completions, index, **_):  # the same reward function as lingshu's run
        return [r["overall"] for r in reward([c[0]["content"] for c in completions], [prompts_[i] for i in index])]

    prompts_ = prompts
    timer = HFTimer(GRPO_WARMUP)
    with tempfile.TemporaryDirectory() as out:
        cfg = GRPOConfig(output_dir=out, per_device_train_batch_size=GRPO_MICRO,
                         gradient_accumulation_steps=GRPO_PROMPTS * GRPO_GROUP // GRPO_MICRO,
                         num_generations=GRPO_GROUP, max_completion_length=GRPO_TOKENS, learning_rate=GRPO_LR,
                         beta=GRPO_KL, epsilon=0.2, max_grad_norm=1.0, lr_scheduler_type="constant", warmup_steps=0,
                         max_steps=steps + GRPO_WARMUP, gradient_checkpointing=False, use_cpu=True, report_to="none",
                         save_strategy="no", logging_strategy="no", disable_tqdm=True, shuffle_dataset=False, seed=0)
        trainer = GRPOTrainer(model=model, reward_funcs=[lingshu_reward], args=cfg, train_dataset=Dataset.from_list(rows),
                              processing_class=proc, callbacks=[timer])
        trainer.train()
    return timer.seconds / steps


GRPO_NOTES = ("grpo: same weights, 8 demo prompts x 8 responses of up to 40 tokens (sampling at T=1), lingshu's "
              "accuracy + format reward on both, KL 1e-3 to a frozen reference, clip 0.2, token-mean loss, one "
              "optimizer step over 2 micro-batches of 32, no gradient checkpointing (TRL's default is on: switched "
              "off); both generate with transformers' generate (no vLLM); s/step after 1 warm-up step")
