"""The whole demo pipeline at toy size, run as a user runs it (launch.py): every step runs, the run
directory is laid out as docs/ARCHITECTURE.md says, every hf/ folder loads in plain transformers, a
rerun skips what finished, and the console reads as a story: each step announced and concluded in
one line, each log line once, no warning we can prevent, the summary table last."""

import json
import re

import pytest
from transformers import Qwen2_5_VLForConditionalGeneration

from lingshu.models.processor import load_processor
from tests.e2e.conftest import launch

TINY = [
    "source.demo.num_images=24", "source.demo.num_text=8", "benchmark.demo.num_images=4",
    "curation.workers=1", "eval.max_new_tokens=6", "eval.batch_size=16", "trainer.log_every_n_steps=1",
    "checkpoint.every_n_steps=1",  # RL saves mid-fit too (Lightning warned there under manual optimization)
    *[f"stages.{s}.{k}" for s in ("shallow_alignment", "deep_alignment", "instruction_tuning")
      for k in ("max_steps=2", "micro_batch_size=4", "data.num_workers=0")],
    "stages.rl_grpo.max_steps=1", "stages.rl_grpo.prompts_per_step=2",
    "stages.rl_grpo.update_prompts=2", "stages.rl_grpo.generations_per_prompt=2",
    "stages.rl_grpo.micro_batch_size=4", "stages.rl_grpo.max_new_tokens=6",
    "stages.rl_grpo.data.heldout_prompts=2", "stages.rl_grpo.data.heldout_samples=1", "stages.rl_grpo.data.yes_no_fraction=1.0",
]


STEPS = ["curate", "eval (untrained)", "shallow_alignment", "eval (shallow_alignment)", "deep_alignment",
         "eval (deep_alignment)", "instruction_tuning", "eval (instruction_tuning)", "rl_grpo", "eval (rl_grpo)"]
# What Lightning, torch or our own loggers said on this console before (issue 14): none may come back.
AVOIDABLE = ["module(s) in eval mode", "LeafSpec", "exists and is not empty", "ModelCheckpoint with manual optimization",
             "Tip:", "TPU available", "WARNING"]
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (.*)$")


def pipeline(run_dir):
    return launch(*TINY, f"hydra.run.dir={run_dir}", f"paths.data_dir={run_dir}/data")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("demo")
    return run_dir, pipeline(run_dir)


def test_run_directory_is_laid_out_as_designed(run):
    run_dir, _ = run
    curated = run_dir / "data" / "curated" / "demo"
    manifest = json.loads((curated / "manifest.json").read_text())
    assert manifest["shards"] and (curated / "rejects.jsonl").exists()
    for stage in ("shallow_alignment", "deep_alignment", "instruction_tuning"):
        d = run_dir / "train" / stage
        assert (d / "hf" / "config.json").exists() and (d / "metrics.csv").exists() and (d / "curves.png").exists()
        assert (d / "checkpoints" / "last.ckpt").exists()
    assert (run_dir / "rl" / "hf" / "config.json").exists() and (run_dir / "rl" / "curves.png").exists()
    for f in ("summary.json", "summary.md", "summary.png"):
        assert (run_dir / "eval" / f).exists(), f
    labels = list(json.loads((run_dir / "eval" / "summary.json").read_text()))
    assert labels == ["untrained", "shallow_alignment", "deep_alignment", "instruction_tuning", "rl_grpo"]
    report = (run_dir / "report.md").read_text()
    assert "RL: reward on 2 held-out prompts" in report and "untrained" in report
    assert json.loads((run_dir / "rl" / "heldout.json").read_text())["before"]["greedy"]["n"] == 2


def test_console_reads_as_a_story_ending_in_the_summary_table(run):
    _, console = run
    out = console.stdout.splitlines()
    messages = [m.group(1) for line in out if (m := LOG_LINE.match(line))]
    for bad in AVOIDABLE:
        assert bad not in console.stdout + console.stderr, bad
    assert console.stderr == ""  # no warnings, and no progress bars redrawn into a captured stream
    for i, step in enumerate(STEPS, 1):  # each step: one line announcing it, one with its result
        assert messages.count(f"[{i}/{len(STEPS)}] {step}") == 1, step
        assert sum(m.startswith(f"[{i}/{len(STEPS)}] {step} done in ") for m in messages) == 1, step
    # each Lightning line once (not again through a second handler): one per training stage
    assert sum(m.startswith("`Trainer.fit` stopped") for m in messages) == 4
    curate = next(m for m in messages if m.startswith("[1/10] curate done in"))
    assert re.search(r"demo: \d+ of \d+ kept, \d+ dropped, \d+ quarantined", curate)
    # the summary table comes last: after every log line, one row per step
    title = max(i for i, line in enumerate(out) if line.strip() == "lingshu pipeline")
    assert title > max(i for i, line in enumerate(out) if LOG_LINE.match(line))
    rows = [line for line in out[title:] if line.startswith("│ ") and not line.startswith("│  ")]
    assert [row.split("│")[1].strip() for row in rows] == STEPS
    assert out[-1].strip().startswith("total ")


def test_every_hf_folder_loads_in_plain_transformers(run):
    run_dir, _ = run
    for hf in sorted(run_dir.glob("**/hf")):
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(hf)
        proc = load_processor(hf)
        enc = proc(text=["<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"], return_tensors="pt")
        out = model.generate(**enc, max_new_tokens=3, do_sample=False)
        assert out.shape[1] > enc["input_ids"].shape[1] - 1, hf


def test_rerun_skips_finished_steps(run):
    run_dir, _ = run
    before = {p: p.stat().st_mtime for p in run_dir.glob("**/hf/model.safetensors")}
    first = json.loads((run_dir / "eval" / "summary.json").read_text())
    console = pipeline(run_dir)
    assert {p: p.stat().st_mtime for p in run_dir.glob("**/hf/model.safetensors")} == before
    assert json.loads((run_dir / "eval" / "summary.json").read_text()) == first
    assert console.stdout.count("already trained with this config") == 4 and console.stderr == ""
