"""SFT on CPU: the Lightning module's overhead against a bare PyTorch loop, and padding with and
without packing on the demo's stage-3 mixture.

    python perf/sft.py [--steps 60] [--out perf/results/sft.json]

Overhead: both loops run the same pre-collated batches (data loading excluded), the same AdamW
param groups, loss and clipping; the ratio is Lightning's wall time per step over the bare loop's.
Padding: the demo is curated into a temporary folder and the instruction-tuning stage of
`experiment=demo` streams it through the real DataModule, once padded and once packed.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from rich.console import Console
from rich.table import Table

from lingshu.data.collate import SFTCollator, real_tokens
from lingshu.data.datamodule import ShardDataModule
from lingshu.data.demo import demo_samples
from lingshu.io import write_json
from lingshu.logs import quiet
from lingshu.models.backbone import Backbone, TinyArch
from lingshu.training.sft import SFTModule, lm_loss, param_groups
from lingshu.training.stage import Stage


def batches(proc, n: int, bs: int = 16) -> list[dict]:
    samples = [s for s in demo_samples("train", 0, 200, 50, planted=False) if s.kind != "caption"]
    coll = SFTCollator(proc)
    return [coll(samples[i * bs:(i + 1) * bs]) for i in range(n)]


def stage() -> Stage:
    return Stage(name="bench", lr={"vision": 5e-4, "projector": 5e-4, "llm": 5e-4}, warmup_steps=0,
                 micro_batch_size=16, grad_accum=1, data={"mixture": [{"source": "demo"}]})


def bare_loop(data: list[dict], steps: int) -> float:
    model, _ = Backbone(arch=TinyArch()).build(seed=0)
    opt = torch.optim.AdamW(param_groups(model, stage()))
    t0 = None
    for i, b in enumerate(itertools.islice(itertools.cycle(data), steps + 5)):
        if i == 5:
            t0 = time.perf_counter()
        b = dict(b)
        b.pop("num_samples")
        labels = b.pop("labels")
        loss = lm_loss(model(**b).logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (time.perf_counter() - t0) / steps


class Timer(L.Callback):
    def on_train_batch_start(self, trainer, *_):
        if trainer.global_step == 5:
            self.t0 = time.perf_counter()

    def on_train_end(self, trainer, *_):
        self.total = time.perf_counter() - self.t0


def lightning_loop(data: list[dict], steps: int) -> float:
    model, _ = Backbone(arch=TinyArch()).build(seed=0)
    loader = torch.utils.data.DataLoader(list(itertools.islice(itertools.cycle(data), steps + 5)), batch_size=None)
    timer = Timer()
    trainer = L.Trainer(accelerator="cpu", max_steps=steps + 5, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, gradient_clip_val=1.0,
                        callbacks=[timer])
    module = SFTModule(model, stage())
    module.on_train_start = lambda: None  # no start-up table in a benchmark
    trainer.fit(module, loader)
    return timer.total / steps


def stage3_padding(batches_per_run: int) -> dict[str, float]:
    """Padding fraction of the demo's instruction-tuning batches, padded vs packed (same samples)."""
    from hydra.utils import instantiate

    import lingshu  # noqa: F401  (config resolvers)
    from hydra import compose, initialize_config_dir
    from lingshu.tasks import curate

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp, initialize_config_dir(str(root / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["task=curate", f"paths.run_dir={tmp}", f"paths.data_dir={tmp}/data",
                                           "curation.progress=false"])
        curate.run(cfg)
        stage = instantiate(cfg.stages.instruction_tuning, _convert_="all")  # experiment=demo's stage 3
        _, proc = Backbone(arch=TinyArch()).build(seed=0)
        out = {}
        for packing in (False, True):
            coll = SFTCollator(proc, stage.max_seq_len, packing)
            dm = ShardDataModule(cfg.paths.curated_dir, stage.data.mixture, coll, 0, stage.micro_batch_size,
                                 stage.data.samples_per_epoch, stage.data.shuffle_buffer, 0)
            dm.setup()
            real = total = 0
            for b in itertools.islice(dm.train_dataloader(), batches_per_run):
                real, total = real + real_tokens(b), total + b["input_ids"].numel()
            out["packed" if packing else "padded"] = 1 - real / total
        return out


def main() -> None:
    quiet()  # a run's console: no Lightning adverts or unactionable third-party warnings
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--padding-batches", type=int, default=100)
    ap.add_argument("--out", default="perf/results/sft.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    _, proc = Backbone(arch=TinyArch()).build(seed=0)
    data = batches(proc, 8)
    rows = []
    for rep in range(2):  # interleave so machine noise hits both alike
        rows.append(("bare", bare_loop(data, args.steps)))
        rows.append(("lightning", lightning_loop(data, args.steps)))
    bare = min(t for k, t in rows if k == "bare")
    light = min(t for k, t in rows if k == "lightning")
    tokens = sum(int(b["attention_mask"].sum()) for b in data) / len(data)
    padding = stage3_padding(args.padding_batches)
    result = {"bare_s_per_step": bare, "lightning_s_per_step": light, "overhead_ratio": light / bare,
              "tokens_per_batch": tokens, "padding_fraction_stage3": padding, "steps": args.steps}
    table = Table(title="SFT step time, tiny Qwen2.5-VL, batch 16, CPU")
    for col in ("loop", "s/step", "tokens/s"):
        table.add_column(col)
    table.add_row("bare PyTorch", f"{bare:.4f}", f"{tokens / bare:,.0f}")
    table.add_row("lingshu SFTModule + Lightning", f"{light:.4f}", f"{tokens / light:,.0f}")
    table.caption = (f"overhead {light / bare:.3f}x (goal <= 1.10); demo stage-3 padding: {padding['padded']:.1%} "
                     f"padded, {padding['packed']:.1%} packed (goal <= 5%)")
    Console().print(table)
    write_json(Path(args.out), result)


if __name__ == "__main__":
    main()
