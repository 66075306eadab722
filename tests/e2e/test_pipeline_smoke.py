"""The whole demo pipeline at toy size: every step runs, the run directory is laid out as docs/ARCHITECTURE.md
says, every hf/ folder loads in plain transformers, and a rerun skips what finished."""

import json

import pytest
from transformers import Qwen2_5_VLForConditionalGeneration

from lingshu.models.processor import load_processor
from lingshu.tasks import pipeline
from tests.conftest import compose

TINY = [
    "source.demo.num_images=24", "source.demo.num_text=8", "benchmark.demo.num_images=4",
    "curation.workers=1", "eval.max_new_tokens=6", "eval.batch_size=16", "trainer.log_every_n_steps=1",
    *[f"stages.{s}.{k}" for s in ("shallow_alignment", "deep_alignment", "instruction_tuning")
      for k in ("max_steps=2", "micro_batch_size=4", "data.num_workers=0")],
    "stages.rl_grpo.max_steps=1", "stages.rl_grpo.prompts_per_step=2",
    "stages.rl_grpo.update_prompts=2", "stages.rl_grpo.generations_per_prompt=2",
    "stages.rl_grpo.micro_batch_size=4", "stages.rl_grpo.max_new_tokens=6",
    "stages.rl_grpo.data.heldout_prompts=2", "stages.rl_grpo.data.heldout_samples=1", "stages.rl_grpo.data.yes_no_fraction=1.0",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("demo")
    cfg = compose(TINY, run_dir)
    return run_dir, cfg, pipeline.run(cfg)


def test_run_directory_is_laid_out_as_designed(run):
    run_dir, _, result = run
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
    assert result["stages"]["rl_grpo"]["heldout_before"]["greedy"]["n"] == 2


def test_every_hf_folder_loads_in_plain_transformers(run):
    run_dir, _, _ = run
    for hf in sorted(run_dir.glob("**/hf")):
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(hf)
        proc = load_processor(hf)
        enc = proc(text=["<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"], return_tensors="pt")
        out = model.generate(**enc, max_new_tokens=3, do_sample=False)
        assert out.shape[1] > enc["input_ids"].shape[1] - 1, hf


def test_rerun_skips_finished_steps(run):
    run_dir, cfg, first = run
    before = {p: p.stat().st_mtime for p in run_dir.glob("train/*/hf/model.safetensors")}
    second = pipeline.run(cfg)
    assert {p: p.stat().st_mtime for p in run_dir.glob("train/*/hf/model.safetensors")} == before
    assert second["eval"] == first["eval"]
