"""An interrupted run, rerun with the same command, ends as an uninterrupted one: the data trace
(ids of every batch, in order) is equal with no sample twice in an epoch, and so are the final
weights and metrics.csv (every step from the first, none twice). In process (an exception after the first checkpoint and one more batch), and for real
(launch.py SIGKILLed after the first checkpoint appears, slow tier)."""

import json
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from lingshu.tasks import rl, train
from lingshu.training.callbacks import DataTrace
from tests.conftest import ROOT, compose
from tests.e2e.conftest import SMALL_RL, launch, series, stage_args

# SFT: 4 micro-batches of 4 per epoch, 2 per optimizer step, 2 epochs, a checkpoint every step: the
# first after batch 2 (mid epoch 0). RL: 4 rollouts, a checkpoint every 2 (the first after rollout 2).
SFT = ["task=train", "stage=deep_alignment", *stage_args("deep_alignment", "epochs=2", "max_steps=4",
       "micro_batch_size=4", "grad_accum=2", "warmup_steps=1", "data.num_workers=0", "data.samples_per_epoch=16",
       "data.mixture=[{source: demo}]"), "checkpoint.every_n_steps=1"]
RL = [*SMALL_RL, "stages.rl_grpo.max_steps=4", "checkpoint.every_n_steps=2"]
FIRST_CHECKPOINT = 2  # batches (SFT micro-batches, RL rollouts) the first checkpoint holds, in both
CASES = {"sft": (SFT, train, "train/deep_alignment"), "sft_packed": ([*SFT, "stages.deep_alignment.packing=true"], train, "train/deep_alignment"),
         "rl": (RL, rl, "rl")}


class Interrupted(Exception):
    pass


def args(case, curated):
    return [*CASES[case][0], "checkpoint.trace_data=true", "trainer.log_every_n_steps=1", f"paths.curated_dir={curated}"]


def history(step_dir) -> dict[int, float]:
    """{step: value} of the stage's main metric in metrics.csv; a step logged twice fails."""
    return series(step_dir / "metrics.csv", "reward/overall" if step_dir.name == "rl" else "train/loss")


def trace(step_dir) -> list[dict]:
    return [json.loads(line) for line in (step_dir / "data_trace" / "rank0.jsonl").read_text().splitlines()]


def weights(step_dir) -> dict:
    return load_file(step_dir / "hf" / "model.safetensors")


@pytest.fixture(scope="module")
def reference(curated, tmp_path_factory):
    """Uninterrupted runs, one per case: (trace, weights)."""
    out = {}

    def get(case):
        if case not in out:
            run = tmp_path_factory.mktemp(f"ref-{case}")
            CASES[case][1].run(compose(args(case, curated), run))
            out[case] = trace(run / CASES[case][2]), weights(run / CASES[case][2]), history(run / CASES[case][2])
        return out[case]
    return get


def assert_same_run(step_dir, ref, atol=0.0):
    ref_trace, ref_weights, ref_history = ref
    got_history = history(step_dir)  # from the first step, across the interruption, none twice
    assert sorted(got_history) == sorted(ref_history) and len(ref_history) >= 3
    assert [got_history[k] for k in sorted(got_history)] == pytest.approx([ref_history[k] for k in sorted(ref_history)],
                                                                          abs=max(atol, 1e-6))
    got = trace(step_dir)
    assert [(r["epoch"], r["batch"], r["step"], r["ids"]) for r in got] == \
           [(r["epoch"], r["batch"], r["step"], r["ids"]) for r in ref_trace]
    for epoch in {r["epoch"] for r in got}:  # every sample at most once per epoch: no replayed batch
        ids = [i for r in got if r["epoch"] == epoch for i in r["ids"]]
        assert len(ids) == len(set(ids))
    for key in ("loss", "reward"):
        assert [r.get(key) for r in got] == pytest.approx([r.get(key) for r in ref_trace], abs=max(atol, 1e-6))
    w = weights(step_dir)
    diff = max((w[k] - ref_weights[k]).abs().max().item() for k in ref_weights)
    assert diff <= atol, diff
    return diff


@pytest.mark.parametrize("case", ["sft", pytest.param("sft_packed", marks=pytest.mark.slow), "rl"])
def test_interrupted_run_resumes_as_if_uninterrupted(case, curated, reference, tmp_path, monkeypatch):
    _, task, step = CASES[case]
    cfg = compose(args(case, curated), tmp_path)
    traced = DataTrace.on_train_batch_end
    crash_at = FIRST_CHECKPOINT + 1  # one batch trained after the checkpoint: the resumed run must redo it

    def crash_after_one_more_batch(self, *a):
        traced(self, *a)
        if self.lines == crash_at:
            raise Interrupted

    monkeypatch.setattr(DataTrace, "on_train_batch_end", crash_after_one_more_batch)
    with pytest.raises(Interrupted):
        task.run(cfg)
    monkeypatch.undo()
    before = trace(tmp_path / step)
    assert not (tmp_path / step / "DONE.json").exists() and (tmp_path / step / "checkpoints" / "last.ckpt").exists()
    task.run(cfg)  # the same command again
    assert_same_run(tmp_path / step, reference(case))
    assert len(before) == crash_at < len(trace(tmp_path / step))  # the crashed batch was trained, and dropped


def run_and_kill(argv, ckpt, log):
    """launch.py, SIGKILLed as soon as `ckpt` exists (written atomically, so it is whole)."""
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "launch.py", *argv], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
        while proc.poll() is None and not ckpt.exists():
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it was killed: {log.read_text()[-2000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_sigkilled_launch_resumes_as_if_uninterrupted(case, curated, reference, tmp_path):
    run = tmp_path / "run"
    step = run / CASES[case][2]
    argv = [*args(case, curated), f"hydra.run.dir={run}", f"paths.data_dir={tmp_path / 'data'}"]
    run_and_kill(argv, step / "checkpoints" / "last.ckpt", tmp_path / "killed.log")
    assert not (step / "DONE.json").exists() and not (step / "hf").exists()
    launch(*argv)  # the same command again
    print(f"{case}: max |w - w_ref| = {assert_same_run(step, reference(case), atol=1e-5):.3g}")


def test_sigkill_after_the_first_checkpoint_keeps_every_metric_row(curated, reference, tmp_path):
    """Lightning's CSVLogger deletes metrics.csv in a folder that is not empty; after a SIGKILL and
    a rerun, metrics.csv must still start at the first step and hold each step once."""
    run = tmp_path / "run"
    step = run / CASES["sft"][2]
    argv = [*args("sft", curated), f"hydra.run.dir={run}", f"paths.data_dir={tmp_path / 'data'}"]
    run_and_kill(argv, step / "checkpoints" / "last.ckpt", tmp_path / "killed.log")
    launch(*argv)
    assert sorted(history(step)) == sorted(reference("sft")[2])
