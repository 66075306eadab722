"""Hydra configs of the evaluation kit: suites, per-benchmark overrides, the eval task end to end."""

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from lingshu.datasets.base import BenchmarkPathError
from lingshu.tasks.evaluate import build_benchmarks, run

CONF = Path(__file__).parents[2] / "conf"
PAPER = ["mmmu_med", "vqa_rad", "slake", "path_vqa", "pmc_vqa", "omnimedvqa", "medxpertqa_mm", "mmlu_med", "pubmedqa",
         "medmcqa", "medqa", "medbullets_op4", "medbullets_op5", "medxpertqa_text", "supergpqa_med", "mimic_cxr",
         "iu_xray", "chexpert_plus"]


@pytest.fixture
def composer(tmp_path):
    # A minimal primary config beside the real groups (the root config belongs to the whole project).
    (tmp_path / "primary.yaml").write_text(
        "defaults:\n  - _self_\n  - benchmark: demo\n  - eval: default\n  - engine: replay\n  - judge: null\n"
        f"seed: 7\npaths:\n  run_dir: {tmp_path / 'run'}\n  raw_dir: {tmp_path / 'raw'}\nmodel:\n  name: tiny\n")

    def make(*overrides):
        with initialize_config_dir(str(tmp_path), version_base="1.3"):
            return compose("primary", overrides=[f"hydra.searchpath=[file://{CONF}]", *overrides])
    return make


def test_every_benchmark_has_a_config_with_its_package_header():
    for name in PAPER + ["demo"]:
        text = (CONF / "benchmark" / f"{name}.yaml").read_text()
        assert text.splitlines()[0] == f"# @package benchmark.{name}"
        assert "_target_: lingshu.datasets." in text


def test_suites_and_lists(composer):
    assert list(composer().benchmark) == ["demo"]
    assert list(composer("benchmark=[vqa_rad,slake]").benchmark) == ["vqa_rad", "slake"]
    assert list(composer("benchmark=multimodal").benchmark) == PAPER[:7]
    assert list(composer("benchmark=text").benchmark) == PAPER[7:15]
    assert list(composer("benchmark=report").benchmark) == PAPER[15:]
    assert list(composer("benchmark=all").benchmark) == PAPER
    cfg = composer("benchmark=[demo,report]", "benchmark.iu_xray.path=/x")
    assert cfg.benchmark.iu_xray.path == "/x" and cfg.benchmark.demo.seed == 7


def test_all_targets_import_and_fail_clearly_without_path(composer):
    cfg = composer("benchmark=all")
    for name, node in cfg.benchmark.items():
        with pytest.raises(Exception) as e:
            build_benchmarks({name: node})
        err = e.value
        while not isinstance(err, BenchmarkPathError) and err.__cause__ is not None:
            err = err.__cause__
        assert isinstance(err, BenchmarkPathError), f"{name}: {e.value!r}"
        assert f"benchmark.{name}.path=" in str(err)


def test_eval_task_with_replay_engine(composer, tmp_path):
    items = list(build_benchmarks(composer("benchmark.demo.num_images=4").benchmark)["demo"].load())
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": i.id, "response": i.answer if n % 2 == 0 else ""}) + "\n"
                               for n, i in enumerate(items)))
    cfg = composer("benchmark.demo.num_images=4", f"engine.path={answers}", "eval.meteor=false", "eval.progress=false",
                   "eval.label=replayed")
    out = run(cfg)
    qa = [i for i in items if i.answer_type != "report"]
    expected = 100 * sum(1 for n, i in enumerate(items) if n % 2 == 0 and i.answer_type != "report") / len(qa)
    assert out["metrics"]["demo"]["accuracy"] == pytest.approx(expected)
    eval_dir = tmp_path / "run" / "eval"
    assert (eval_dir / "demo" / "predictions.jsonl").exists() and (eval_dir / "demo" / "metrics.json").exists()
    summary = json.loads((eval_dir / "summary.json").read_text())
    assert "replayed" in summary and (eval_dir / "summary.png").stat().st_size > 0
    assert "| replayed |" in (eval_dir / "summary.md").read_text()
    settings = json.loads((eval_dir / "demo" / "metrics.json").read_text())["settings"]
    assert settings["model"] == "tiny" and settings["scoring"] == "strict" and settings["temperature"] == 0.0


def test_a_rerun_with_every_prediction_on_disk_builds_no_engine(composer, tmp_path, monkeypatch):
    import lingshu.engines

    items = list(build_benchmarks(composer().benchmark)["demo"].load())
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": i.id, "response": i.answer}) + "\n" for i in items))
    built = []
    real = lingshu.engines.build_engine
    monkeypatch.setattr(lingshu.engines, "build_engine", lambda *a: built.append(a) or real(*a))
    cfg = composer(f"engine.path={answers}", "eval.meteor=false", "eval.progress=false")
    metrics = tmp_path / "run" / "eval" / "demo" / "metrics.json"
    first = run(cfg)
    recorded = metrics.read_text()
    assert len(built) == 1
    second = run(cfg)
    assert len(built) == 1  # nothing left to generate: the engine (weights, a vLLM server) is never built
    assert second["metrics"] == first["metrics"] and metrics.read_text() == recorded
    assert json.loads(recorded)["settings"]["engine"] == {"engine": "replay", "responses": len(items)}


def test_engine_and_judge_configs_name_no_secret():
    for f in list((CONF / "engine").glob("*.yaml")) + list((CONF / "judge").glob("*.yaml")):
        cfg = OmegaConf.load(f)
        assert "api_key" not in cfg, f"{f.name} must take the key from the environment (api_key_env)"


def test_evaluate_models_one_row_per_label(composer, tmp_path):
    from lingshu.tasks.evaluate import evaluate_models

    items = list(build_benchmarks(composer("benchmark.demo.num_images=2").benchmark)["demo"].load())
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": i.id, "response": i.answer}) + "\n" for i in items))
    cfg = composer("benchmark.demo.num_images=2", f"engine.path={answers}", "eval.meteor=false", "eval.progress=false",
                   "eval.report_metrics={}")
    results = evaluate_models(cfg, {"untrained": None, "rl": None}, tmp_path / "eval")
    assert list(results) == ["untrained", "rl"] and results["rl"]["demo"]["accuracy"] == pytest.approx(100.0)
    assert (tmp_path / "eval" / "rl" / "demo" / "predictions.jsonl").exists()
    md = (tmp_path / "eval" / "summary.md").read_text()
    assert "| untrained (strict, judge rule only, " in md and "| rl (strict, judge rule only, " in md
