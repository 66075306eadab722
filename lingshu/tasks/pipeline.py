"""task=pipeline: the whole recipe, step by step, each step reading the files the previous one wrote.

Steps (task.steps): `curate`; a key of `stages` (SFT or RL, trained from the latest checkpoint
unless its init_from says otherwise); `eval` (scores the latest checkpoint on the selected
benchmarks). Every step records what it was made from (config, data, starting weights), so
rerunning the same command skips exactly what is still valid.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from hydra.utils import instantiate
from rich.console import Console
from rich.table import Table

from lingshu.models.export import export_hf
from lingshu.tasks.common import config_hash, done, fresh_dir, is_rank_zero, mark_done, on_rank_zero, run_dir

log = logging.getLogger(__name__)

# The config groups this task builds, validated before it runs (lingshu.config.validate).
GROUPS = ("source", "synthesis", "model", "benchmark", "engine", "judge", "reward", "logger")


def initial_checkpoint(cfg) -> str:
    """The model every later step starts from, as an hf/ folder (random init written once, so the
    untrained row and stage 1 see the very same weights)."""
    if cfg.model.get("path"):
        return str(cfg.model.path)
    out = run_dir(cfg) / "train" / "init"
    key = config_hash(cfg.model, cfg.seed)

    def write() -> dict:
        model, processor = instantiate(cfg.model, _convert_="all").build(None, seed=cfg.seed)
        return mark_done(out, key, {"hf": str(export_hf(model, processor, out / "hf"))})

    result = done(out, key) or on_rank_zero(cfg, "init", write)
    return result["hf"]


def run(cfg) -> dict:
    from lingshu.evaluation.summary import write_summary
    from lingshu.tasks import curate
    from lingshu.tasks.evaluate import build_benchmarks, build_judge, eval_key, evaluate_checkpoint
    from lingshu.tasks.stages import build_stage, run_stage

    steps = list(cfg.task.steps)  # validated before any work (lingshu.config.validate)
    t_start = time.time()
    timings: list[tuple[str, float, str]] = []  # (step, seconds, one-line result)
    checkpoint, label = None, "untrained"
    results: dict[str, dict] = {}
    stage_results: dict[str, dict] = {}
    eval_dir = run_dir(cfg) / "eval"
    benchmarks = judge = None

    def evaluate(checkpoint: str, label: str) -> dict:
        nonlocal benchmarks, judge
        if benchmarks is None:
            benchmarks, judge = build_benchmarks(cfg.benchmark), build_judge(cfg.get("judge"))
        fresh_dir(eval_dir / label, eval_key(cfg, checkpoint), "predictions")
        out = evaluate_checkpoint(cfg, checkpoint, eval_dir / label, benchmarks, judge)
        write_summary({**results, label: out}, eval_dir)
        return out

    # Under DDP every rank runs this loop (a launcher starts them all, or Lightning re-runs the
    # command for its ranks). Training stages need every rank; curation and evaluation run on
    # rank 0 while the others wait for their results (see on_rank_zero).
    if is_rank_zero():
        log.info("pipeline: %d steps (%s) in %s", len(steps), ", ".join(steps), run_dir(cfg))
    for i, step in enumerate(steps):
        t0 = time.time()
        title = step if step != "eval" else f"eval ({label})"
        if is_rank_zero():
            log.info("[%d/%d] %s", i + 1, len(steps), title)
        if step == "curate":
            out = stage_results["curate"] = on_rank_zero(cfg, f"{i}-curate", lambda: curate.run(cfg))
        elif step == "eval":
            checkpoint = checkpoint or initial_checkpoint(cfg)
            out = results[label] = on_rank_zero(cfg, f"{i}-eval", lambda: evaluate(checkpoint, label))
        else:
            init = build_stage(cfg, step).init_from or checkpoint or initial_checkpoint(cfg)
            out = stage_results[step] = run_stage(cfg, step, init)
            checkpoint, label = out["hf"], step
        if is_rank_zero():
            timings.append((title, time.time() - t0, outcome(step, out, run_dir(cfg))))
            log.info("[%d/%d] %s done in %.1f s: %s", i + 1, len(steps), title, timings[-1][1], timings[-1][2])
    if not is_rank_zero():
        return {"eval": results, "stages": stage_results}
    report = write_report(cfg, results, stage_results, timings, time.time() - t_start)
    return {"eval": results, "stages": stage_results, "report": str(report)}


def outcome(step: str, out: dict, rd: Path) -> str:
    """A step's result in one line: what a reader of the console wants to know about it."""
    if step == "curate":
        return "; ".join(f"{name}: {c['kept']:,} of {c['read']:,} kept, {sum(c['dropped'].values()):,} dropped, "
                         f"{c['quarantined']:,} quarantined" for name, c in out["counts"].items())
    if step == "eval":
        return ", ".join(f"{bench} accuracy {_fmt(m.get('accuracy'))}" for bench, m in out.items())
    hf = Path(out["hf"])
    steps = f"{out['steps']} optimizer step{'s' if out['steps'] != 1 else ''}"
    line = f"{steps} -> {hf.relative_to(rd) if hf.is_relative_to(rd) else hf}"
    if out.get("heldout_before"):
        b, a = out["heldout_before"]["greedy"], out["heldout_after"]["greedy"]
        line += f"; held-out reward (greedy) {_fmt(b['overall'])} -> {_fmt(a['overall'])}"
    return line


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def write_report(cfg, results: dict, stages: dict, timings: list, total_s: float) -> Path:
    """report.md: what ran, how long, the headline numbers, and where everything is."""
    rd = run_dir(cfg)
    lines = ["# lingshu run report", "", f"Run directory: `{rd}`", "",
             "## Steps", "", "| step | seconds |", "|---|---:|"]
    lines += [f"| {s} | {t:.1f} |" for s, t, _ in timings] + [f"| **total** | **{total_s:.1f}** |", ""]
    if results:
        keys = ["accuracy", "closed_accuracy", "open_accuracy", "mcq_accuracy", "rouge_l", "unparsed"]
        lines += ["## Evaluation (held-out)", "", "| checkpoint | benchmark | " + " | ".join(keys) + " |",
                  "|---|---|" + "---:|" * len(keys)]
        for label, per_bench in results.items():
            for bench, m in per_bench.items():
                lines.append(f"| {label} | {bench} | " + " | ".join(_fmt(m.get(k)) for k in keys) + " |")
        lines += ["", "Details: [eval/summary.md](eval/summary.md), chart: ![summary](eval/summary.png)", ""]
    rl = next((v for v in stages.values() if isinstance(v, dict) and "heldout_before" in v), None)
    if rl and rl.get("heldout_before"):
        b, a = rl["heldout_before"], rl["heldout_after"]
        comps = [k for k in b["greedy"] if k not in ("n", "examples")]
        lines += [f"## RL: reward on {b['greedy']['n']} held-out prompts", "",
                  "| decoding | | " + " | ".join(comps) + " |", "|---|---|" + "---:|" * len(comps)]
        for mode in ("greedy", "sampled"):
            for when, d in (("before RL", b), ("after RL", a)):
                lines.append(f"| {mode} | {when} | " + " | ".join(_fmt(d[mode][k]) for k in comps) + " |")
        lines += ["", f"Prompts: {json.dumps(rl['prompts'])}", "", "Curves: ![rl](rl/curves.png)", ""]
    trained = {s: v for s, v in stages.items() if isinstance(v, dict) and "curves" in v}
    if trained:
        lines += ["## Training", "", "| stage | kind | optimizer steps | planned | curves |", "|---|---|---:|---:|---|"]
        lines += [f"| {s} | {v['kind']} | {v['steps']} | {v['planned_steps']} | "
                  f"![{s}]({Path(v['curves']).relative_to(rd) if Path(v['curves']).is_relative_to(rd) else v['curves']}) |"
                  for s, v in trained.items()] + [""]
    lines += ["## Config", "", "The composed config is in `.hydra/config.yaml` (secrets come from the environment "
              "and are never written).", ""]
    path = rd / "report.md"
    path.write_text("\n".join(lines))
    log.info("report: %s", path)
    table = Table(title="lingshu pipeline", caption=f"total {total_s:.1f} s")
    for col in ("step", "seconds", "result"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for s, t, result in timings:
        table.add_row(s, f"{t:.1f}", result)
    Console().print(table)
    return path
