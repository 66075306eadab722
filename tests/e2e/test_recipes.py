"""The paths a real user runs: a paper stage whose length comes from its data (max_steps -1), the
step-by-step commands from a fresh folder, caches that notice changed data or weights, and every
experiment end to end in miniature (`+scale=miniature`)."""

import json
import math
import re
from pathlib import Path

import pytest
from transformers import Qwen2_5_VLForConditionalGeneration

from lingshu.config import apply_scale, validate
from lingshu.data.shards import iter_tar, list_shards
from lingshu.tasks import evaluate, pipeline, rl, train
from tests.conftest import compose
from tests.e2e.conftest import SMALL_RL, launch, rows, series, stage_args


def test_paper_stage_schedule_comes_from_its_data(curated, tmp_path, capsys):
    """deep_alignment as the paper writes it (max_steps -1, 1 epoch, micro 1 x accumulation 8), on
    every curated demo sample: the steps are counted from the manifests before training (a short
    last accumulation window still steps); metrics.csv shows the warm-up, then a cosine to
    min_lr_ratio over exactly those steps, not 0 before the last one."""
    n = sum(1 for shard in list_shards(curated / "demo") for _ in iter_tar(shard))
    assert n >= 100
    cfg = compose(["task=train", "stage=deep_alignment", "experiment=lingshu_7b", "model=tiny", "trainer=cpu",
                   "trainer.log_every_n_steps=1", f"paths.curated_dir={curated}",
                   *stage_args("deep_alignment", "data.mixture=[{source: demo}]", "data.num_workers=0",
                               "warmup_steps=4", "min_lr_ratio=0.1")], tmp_path)
    stage = cfg.stages.deep_alignment
    assert stage.max_steps == -1 and (stage.epochs, stage.micro_batch_size, stage.grad_accum) == (1, 1, 8)
    result = train.run(cfg)
    total = math.ceil(n / 8)
    assert result["steps"] == result["planned_steps"] == total
    out = capsys.readouterr().out
    assert re.search(rf"optimizer steps\s+│\s+{total}\b", out)
    assert re.search(rf"samples per epoch \(manifests\)\s+│\s+{n}\b", out)
    lr = series(tmp_path / "train" / "deep_alignment" / "metrics.csv", "lr-AdamW/vision")
    assert sorted(lr) == list(range(total))  # one value per optimizer step, every step
    peak = 2e-6
    assert [lr[i] for i in range(4)] == pytest.approx([peak * (i + 1) / 4 for i in range(4)])
    for i in range(4, total):  # cosine from the peak down to 0.1 x peak at the end
        progress = (i - 4) / (total - 4)
        assert lr[i] == pytest.approx(peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))))
    assert lr[total - 1] > 0.1 * peak and min(lr.values()) > 0
    assert lr[total - 2] < peak * 0.5  # a real decay, not a constant


def test_step_by_step_from_a_fresh_folder(tmp_path):
    """README's sequence, each command with its default run directory and no path overrides:
    curate, train stage 1, train stage 2 (from stage 1's hf/ by the documented rule), evaluate it."""
    tiny = ("max_steps=2", "micro_batch_size=4", "data.num_workers=0")
    launch("task=curate", "source.demo.num_images=12", "source.demo.num_text=4", "curation.workers=1", cwd=tmp_path)
    assert (tmp_path / "data" / "curated" / "demo" / "manifest.json").exists()
    launch("task=train", "stage=shallow_alignment", *stage_args("shallow_alignment", *tiny), cwd=tmp_path)
    second = launch("task=train", "stage=deep_alignment", *stage_args("deep_alignment", *tiny), cwd=tmp_path)
    runs = sorted((tmp_path / "outputs").glob("*/*"))
    assert len(runs) == 3  # one run directory per command
    first_hf = runs[1] / "train" / "shallow_alignment" / "hf"
    deep_hf = runs[2] / "train" / "deep_alignment" / "hf"
    assert f"starts from {first_hf.resolve()}" in second.stdout + second.stderr
    assert json.loads((tmp_path / "data" / "latest" / "deep_alignment.json").read_text())["hf"] == str(deep_hf.resolve())
    launch("task=eval", f"eval.checkpoint={deep_hf}", "benchmark.demo.num_images=2", "eval.max_new_tokens=4",
           "eval.meteor=false", cwd=tmp_path)
    eval_run = sorted((tmp_path / "outputs").glob("*/*"))[-1]
    summary = json.loads((eval_run / "eval" / "summary.json").read_text())
    assert list(summary) == ["hf"] and summary["hf"]["demo"]["n"] > 0


TINY_PIPELINE = ["task.steps=[curate,shallow_alignment,deep_alignment]", "source.demo.num_text=4",
                 "curation.workers=1", "curation.progress=false",
                 *[f"stages.{s}.{k}" for s in ("shallow_alignment", "deep_alignment")
                   for k in ("max_steps=1", "micro_batch_size=4", "data.num_workers=0")]]


def test_changed_curation_retrains_every_stage_and_changed_weights_rerun_eval(tmp_path):
    run = tmp_path / "run"
    weights = lambda: {s: (run / "train" / s / "DONE.json").read_text() for s in ("shallow_alignment", "deep_alignment")}
    pipeline.run(compose([*TINY_PIPELINE, "source.demo.num_images=8"], run))
    first = weights()
    pipeline.run(compose([*TINY_PIPELINE, "source.demo.num_images=8"], run))
    assert weights() == first  # same config, data and weights: skipped
    pipeline.run(compose([*TINY_PIPELINE, "source.demo.num_images=10"], run))  # other curated data
    assert all(weights()[s] != first[s] for s in first)  # both retrained (stage 2 also starts elsewhere)

    # task=eval into one folder: predictions from other weights are never reused
    out = tmp_path / "eval"
    common = ["task=eval", "benchmark.demo.num_images=2", "eval.max_new_tokens=4", "eval.meteor=false",
              f"eval.out_dir={out}"]
    a, b = (str(run / "train" / s / "hf") for s in ("shallow_alignment", "deep_alignment"))
    evaluate.run(compose([*common, f"eval.checkpoint={a}", "eval.label=model"], tmp_path / "e1"))
    pred = out / "demo" / "predictions.jsonl"
    first_pred = pred.read_text()
    evaluate.run(compose([*common, f"eval.checkpoint={a}", "eval.label=model"], tmp_path / "e2"))
    assert pred.read_text() == first_pred and not (out / "CLEARED.txt").exists()  # resumed: nothing to do
    pred.write_text("\n".join(first_pred.splitlines()[:1]) + "\n")  # as if killed after one batch
    evaluate.run(compose([*common, f"eval.checkpoint={b}", "eval.label=model"], tmp_path / "e3"))
    assert "different weights" in (out / "CLEARED.txt").read_text()
    assert len(pred.read_text().splitlines()) == len(first_pred.splitlines())  # every item answered again


def check_miniature(run: Path, stages: list[str]) -> None:
    report = (run / "report.md").read_text()
    for s in stages:
        d = run / ("rl" if s == "rl_grpo" else f"train/{s}")
        assert f"| {s} |" in report, s
        metric = "reward/overall" if s == "rl_grpo" else "train/loss"
        values = series(d / "metrics.csv", metric)
        assert values and all(math.isfinite(v) for v in values.values()), s
        lrs = [float(r[k]) for r in rows(d / "metrics.csv") for k in r if k.startswith("lr-") and r[k] != ""]
        assert lrs and lrs[len(lrs) // 2] > 0, s  # LR above 0 in the middle of the stage
        Qwen2_5_VLForConditionalGeneration.from_pretrained(d / "hf")
    summary = json.loads((run / "eval" / "summary.json").read_text())
    assert summary and all(row["demo"]["n"] > 0 for row in summary.values())


MINIATURES = {
    "lingshu_rl_7b": ["rl_grpo"],
    "demo": ["shallow_alignment", "deep_alignment", "instruction_tuning", "rl_grpo"],
    "lingshu_7b": ["shallow_alignment", "deep_alignment", "instruction_tuning"],
    "lingshu_32b": ["shallow_alignment", "deep_alignment", "instruction_tuning"],
}


@pytest.mark.parametrize("experiment", list(MINIATURES))
def test_every_experiment_validates_in_miniature(experiment, tmp_path):
    """Fast: the miniature of each recipe composes and every node it will build is valid; the
    recipe's own knobs survive (only the scale changed)."""
    cfg = compose([f"experiment={experiment}", "+scale=miniature"], tmp_path)
    paper = compose([f"experiment={experiment}"], tmp_path)
    apply_scale(cfg)
    validate(cfg)
    assert cfg.task.steps == paper.task.steps and list(cfg.source) == list(paper.source)
    assert cfg.model.name == "tiny" and cfg.trainer.accelerator == "cpu" and cfg.trainer.num_nodes == 1
    for name in MINIATURES[experiment]:
        got, want = cfg.stages[name], paper.stages[name]
        for knob in ("lr", "epochs", "max_steps", "grad_accum", "max_seq_len", "kl_coef", "temperature"):
            assert got.get(knob) == want.get(knob), (name, knob)


@pytest.mark.slow  # each takes 1-4 minutes on 2 CPU cores
@pytest.mark.parametrize("experiment", list(MINIATURES))
def test_every_experiment_runs_in_miniature(experiment, tmp_path):
    """Only +scale=miniature on the command line: the recipe's own steps, stages and knobs."""
    launch(f"experiment={experiment}", "+scale=miniature", "hydra.run.dir=run", cwd=tmp_path, timeout=1200)
    check_miniature(tmp_path / "run", MINIATURES[experiment])


def test_a_stage_shorter_than_the_log_cadence_still_logs_every_step(curated, tmp_path):
    """trainer=cpu logs every 5 steps; a 3-step RL stage logs each of its steps all the same."""
    cfg = compose([*SMALL_RL, "stages.rl_grpo.max_steps=3", f"paths.curated_dir={curated}"], tmp_path)
    assert cfg.trainer.log_every_n_steps == 5
    rl.run(cfg)
    assert sorted(series(tmp_path / "rl" / "metrics.csv", "reward/overall")) == [0, 1, 2]


def test_a_frozen_llm_stage_steps_through_text_only_micro_batches(curated, tmp_path):
    """Stage 1 trains only the vision side; a text-only micro-batch gives it no gradient, and the stage
    still steps (those parameters just get none from that micro-batch) instead of failing in backward."""
    cfg = compose(["task=train", "stage=shallow_alignment", f"paths.curated_dir={curated}",
                   *stage_args("shallow_alignment", "data.num_workers=0", "micro_batch_size=1", "grad_accum=2",
                               "max_steps=4", "warmup_steps=1", "data.mixture=[{source: demo, kinds: [caption]}, "
                               "{source: demo, ids: '*-text-*'}]")], tmp_path)
    result = train.run(cfg)
    assert result["steps"] == 4
