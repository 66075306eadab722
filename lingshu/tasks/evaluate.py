"""task=eval: run the selected benchmarks on one model (or several checkpoints) and summarise.

    python launch.py task=eval benchmark=[vqa_rad,slake] benchmark.vqa_rad.path=/data/vqa_rad benchmark.slake.path=/data/slake \
        model=qwen2_5_vl_7b model.path=/models/Qwen2.5-VL-7B-Instruct engine=hf
    python launch.py task=eval eval.checkpoint=outputs/<date>/<time>/train/deep_alignment/hf
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from lingshu.evaluation.summary import write_summary
from lingshu.evaluation.runner import evaluate
from lingshu.tasks.common import fresh_dir

log = logging.getLogger(__name__)

# The config groups this task builds, validated before it runs (lingshu.config.validate).
GROUPS = ("model", "benchmark", "engine", "judge")


def build_benchmarks(benchmark_cfg: Any) -> dict[str, Any]:
    """{name: loader} from the `benchmark` node (one entry per selected config file)."""
    if not benchmark_cfg:
        raise ValueError("no benchmark selected: add benchmark=demo or benchmark=[vqa_rad,slake] (suites: "
                         "multimodal, text, report, all)")
    return {name: instantiate(node) for name, node in benchmark_cfg.items()}


def build_judge(judge_cfg: Any) -> Any:
    return instantiate(judge_cfg) if judge_cfg else None


def build_report_metrics(nodes: Any) -> dict[str, Any]:
    """Model-based report metric plugins from `eval.report_metrics`. One marked `required: false`
    (the default sentence encoder) is skipped with a warning when its weights are absent."""
    from lingshu.evaluation.model_metrics import MissingWeights

    plugins = {}
    for name, node in (nodes or {}).items():
        node = dict(node)
        required = node.pop("required", True)
        try:
            plugins[name] = instantiate(node)
        except Exception as e:  # Hydra wraps the plugin's own error
            cause = e
            while cause.__cause__ is not None and not isinstance(cause, MissingWeights):
                cause = cause.__cause__
            if required or not isinstance(cause, MissingWeights):
                raise
            log.warning("eval: report metric %s skipped: %s", name, cause)
    return plugins


def _label(cfg: DictConfig, checkpoint: Any) -> str:
    if cfg.eval.get("label"):
        return str(cfg.eval.label)
    return Path(str(checkpoint)).name if checkpoint else str(cfg.model.get("name", "model"))


def evaluate_checkpoint(cfg: DictConfig, checkpoint: Any, out_dir: Path, benchmarks: Mapping[str, Any] | None = None,
                        judge: Any = None, report_metrics: Mapping[str, Any] | None = None) -> dict[str, dict]:
    """Metrics per benchmark of one checkpoint (None: the model config as built), written under out_dir."""
    from lingshu.engines import LazyEngine, build_engine

    ev = cfg.eval
    benchmarks = benchmarks if benchmarks is not None else build_benchmarks(cfg.benchmark)
    plugins = report_metrics if report_metrics is not None else (
        build_report_metrics(ev.get("report_metrics")) if _has_reports(benchmarks) else {})
    engine = LazyEngine(lambda: build_engine(cfg.engine, cfg.model, checkpoint))
    return evaluate(benchmarks, engine, out_dir, scoring=ev.scoring, judge=judge, reasoning=ev.reasoning,
                    max_images=ev.max_images, num_chunks=ev.num_chunks, chunk_idx=ev.chunk_idx, limit=ev.limit,
                    batch_size=ev.batch_size, max_new_tokens=ev.max_new_tokens, with_meteor=ev.meteor,
                    report_metrics=plugins, run_info=_run_info(cfg, checkpoint), progress=ev.get("progress", True))


def _run_info(cfg: DictConfig, checkpoint: Any) -> dict[str, Any]:
    """What else decides the numbers: the checkpoint and the model's pinned pixel budget."""
    model = cfg.get("model") or {}
    return {"checkpoint": str(checkpoint) if checkpoint else None, "model": model.get("name"),
            "min_pixels": model.get("min_pixels"), "max_pixels": model.get("max_pixels")}


def _has_reports(benchmarks: Mapping[str, Any]) -> bool:
    """Whether any selected benchmark generates reports (only then are encoder plugins loaded)."""
    return any(b.has_reports for b in benchmarks.values())


def evaluate_models(cfg: DictConfig, checkpoints: Mapping[str, Any], out_dir: str | Path | None = None) -> dict[str, dict]:
    """Evaluate several checkpoints ({label: hf folder or None}) on the selected benchmarks:
    `<out_dir>/<label>/<benchmark>/...` per model, one summary across them in `<out_dir>`."""
    out_dir = Path(out_dir or cfg.eval.out_dir)
    benchmarks = build_benchmarks(cfg.benchmark)
    judge = build_judge(cfg.get("judge"))
    plugins = build_report_metrics(cfg.eval.get("report_metrics")) if _has_reports(benchmarks) else {}
    results = {label: evaluate_checkpoint(cfg, ckpt, out_dir / label, benchmarks, judge, plugins)
               for label, ckpt in checkpoints.items()}
    write_summary(results, out_dir)
    return results


# Settings that decide what a model answers; the others (chunking, batch size, where) do not.
ANSWER_KNOBS = ("reasoning", "max_images", "max_new_tokens")


def eval_key(cfg: DictConfig, checkpoint: Any) -> str:
    """Identity of the predictions in a folder: the weights (a lingshu step's key or the files'
    hash), the model and engine configs and the knobs that change answers. Predictions resume by
    item id only under the same key; under another the folder is cleared (see fresh_dir)."""
    from lingshu.tasks.common import config_hash, weights_identity

    weights = weights_identity(checkpoint or cfg.model.get("path"), cfg)
    return config_hash(weights, cfg.model, cfg.engine, {k: cfg.eval.get(k) for k in ANSWER_KNOBS})


def run(cfg: DictConfig) -> dict:
    ev = cfg.eval
    out_dir = Path(ev.out_dir or Path(cfg.paths.run_dir) / "eval")
    label = _label(cfg, ev.checkpoint)
    fresh_dir(out_dir, eval_key(cfg, ev.checkpoint), "predictions")
    results = evaluate_checkpoint(cfg, ev.checkpoint, out_dir, judge=build_judge(cfg.get("judge")))
    selected = list(cfg.benchmark)
    if set(results) == set(selected):
        paths = write_summary({label: results}, out_dir)
        log.info("eval: summary in %s", paths["md"])
    else:  # a chunk whose siblings are still running: the last chunk to finish merges and summarises
        log.info("eval: chunk %d/%d done; waiting for the other chunks", ev.chunk_idx, ev.num_chunks)
    headline = {b: m.get("accuracy", m.get("rouge_l")) for b, m in results.items()}
    for b, v in headline.items():
        log.info("eval: %s %s", b, "n/a" if v is None else f"{v:.2f}")
    return {"out_dir": str(out_dir), "label": label, "metrics": results, "headline": headline}
