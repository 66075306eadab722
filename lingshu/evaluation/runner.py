"""Run benchmarks through an engine, score, and write predictions and metrics.

Per benchmark, under `out_dir/<benchmark>/`:
- `predictions.jsonl`: one scored record per item, appended batch by batch as produced; a rerun
  skips ids already there, so a killed run resumes where it stopped.
- `metrics.json`: the aggregate metrics plus the prompts and generation settings that made them.
Data-parallel sharding: with `num_chunks > 1` each process takes every `num_chunks`-th item
starting at `chunk_idx` and writes `predictions.<idx>-of-<n>.jsonl`; whichever chunk finishes
last merges them into `predictions.jsonl` and writes `metrics.json` (or call `merge_chunks`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lingshu.evaluation import medevalkit, prompts
from lingshu.evaluation.extract import final_answer_span
from lingshu.evaluation.metrics import PROFILES, aggregate, bootstrap_ci, needs_judge, score_prediction
from lingshu.io import atomic_open, open_append, read_jsonl, write_json
from lingshu.logs import PROGRESS_DELAY_S
from lingshu import prompts as neutral
from lingshu.schema import BenchmarkItem

log = logging.getLogger(__name__)


def _batches(it: Iterable, n: int) -> Iterator[list]:
    it = iter(it)
    while batch := list(islice(it, n)):
        yield batch


def _chunk_name(num_chunks: int, chunk_idx: int) -> str:
    return "predictions.jsonl" if num_chunks == 1 else f"predictions.{chunk_idx}-of-{num_chunks}.jsonl"


def _describe(obj: Any) -> Any:
    return obj.describe() if hasattr(obj, "describe") else type(obj).__name__


def _engine_info(engine: Any, earlier: Path) -> Any:
    """Which engine made the predictions: this one, or, when this run generated nothing and so never
    built it (see LazyEngine), the one the earlier run recorded."""
    if not getattr(engine, "built", True) and earlier.exists():
        return json.loads(earlier.read_text(encoding="utf-8"))["settings"]["engine"]
    return _describe(engine)


def run_benchmark(name: str, bench: Any, engine: Any, out_dir: Path, *, scoring: str = "strict", judge: Any = None,
                  reasoning: bool = False, max_images: int | None = None, num_chunks: int = 1, chunk_idx: int = 0,
                  limit: int | None = None, batch_size: int = 32, max_new_tokens: int | None = None,
                  with_meteor: bool = True, report_metrics: Mapping[str, Any] | None = None,
                  run_info: Mapping[str, Any] | None = None, progress: bool = True) -> dict[str, Any] | None:
    """Evaluate one benchmark; returns its metrics (None for a chunk whose siblings are not done yet)."""
    if not 0 <= chunk_idx < num_chunks:
        raise ValueError(f"eval.chunk_idx={chunk_idx} must be in [0, eval.num_chunks={num_chunks})")
    if scoring == "medevalkit" and judge is None:
        log.warning("eval %s: scoring=medevalkit without a judge: open questions fall back to exact match "
                    "(the paper judged them with GPT-4.1; set judge=medevalkit judge.prompt_file=...)", name)
    other = next(p for p in PROFILES if p != scoring)
    if max_new_tokens is None and scoring == "medevalkit" and not reasoning:
        max_new_tokens = prompts.MEDEVALKIT_MAX_NEW_TOKENS
    checkpoint = (run_info or {}).get("checkpoint") or (run_info or {}).get("model")  # identity per record
    bdir = Path(out_dir) / name
    bdir.mkdir(parents=True, exist_ok=True)
    pred_path = bdir / _chunk_name(num_chunks, chunk_idx)
    done = {r["id"] for r in read_jsonl(pred_path, skip_torn=True)} if pred_path.exists() else set()
    n_images = max_images if max_images is not None else getattr(bench, "max_images", 1)
    ids: list[str] = []
    seen: set[str] = set()

    def todo() -> Iterator[BenchmarkItem]:
        for row, item in enumerate(islice(bench.load(), limit)):
            if item.id in seen:
                raise ValueError(f"benchmark {name}: duplicate item id {item.id!r}")
            seen.add(item.id)
            if row % num_chunks != chunk_idx:
                continue
            ids.append(item.id)
            if item.id not in done:
                yield item

    expected = getattr(bench, "expected", {}).get(getattr(bench, "split", None))
    total = min(x for x in (limit, expected) if x) if (limit or expected) else None
    # disable=None: no bar when stderr is not a terminal (a log file would collect every redraw)
    bar = tqdm(desc=f"eval {name}", unit="q", disable=None if progress else True,
               initial=min(len(done), total or len(done)), total=-(-total // num_chunks) if total else None,
               delay=PROGRESS_DELAY_S)
    with open_append(pred_path) as fh:
        for batch in _batches(todo(), batch_size):
            requests = []
            for item in batch:
                req = prompts.build_request(item, reasoning=reasoning, max_images=n_images,
                                            max_new_tokens=max_new_tokens, scoring=scoring)
                req.id = item.id  # lets the replay engine match responses by id
                requests.append(req)
            responses = engine.generate(requests)
            if len(responses) != len(requests):
                raise RuntimeError(f"eval {name}: the engine returned {len(responses)} responses for {len(requests)} requests")
            verdicts = {p: _judge_batch(judge, batch, responses, p) for p in (scoring, other)}
            for i, (item, response) in enumerate(zip(batch, responses)):
                rec = score_prediction(item, response, scoring=scoring, judge=verdicts[scoring].get(i))
                alt = score_prediction(item, response, scoring=other, judge=verdicts[other].get(i))
                rec["alt"] = {k: v for k, v in alt.items() if k not in _SHARED_FIELDS}
                rec.update(_request_record(requests[i], engine, item, checkpoint, scoring))
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
            bar.update(len(batch))
    bar.close()
    if expected and limit is None and len(seen) != expected:
        log.warning("eval %s: %d items, the paper evaluated %d: check benchmark.%s.path and split", name,
                    len(seen), expected, name)

    budget = max_new_tokens or (prompts.REASONING_MAX_NEW_TOKENS if reasoning else prompts.DEFAULT_MAX_NEW_TOKENS)
    settings = {"benchmark": name, "scoring": scoring, "reasoning": reasoning, "max_images": n_images,
                "temperature": 0.0, "max_new_tokens": budget,
                "protocol": protocol(scoring, judge, budget, reasoning),
                "prompts": prompt_templates(reasoning, scoring), "engine": _engine_info(engine, bdir / (
                    "metrics.json" if num_chunks == 1 else f"chunk.{chunk_idx}-of-{num_chunks}.json")),
                "judge": _describe(judge) if judge is not None else None, "limit": limit, **dict(run_info or {})}
    if num_chunks == 1:
        return _finish(bdir, _records_for(pred_path, ids), settings, with_meteor, report_metrics)
    write_json(bdir / f"chunk.{chunk_idx}-of-{num_chunks}.json", {"ids": ids, "settings": settings})
    return merge_chunks(bdir, num_chunks, with_meteor=with_meteor, report_metrics=report_metrics)


def _judge_batch(judge: Any, batch: list[BenchmarkItem], responses: list, scoring: str) -> dict[int, dict]:
    """Verdicts for the items `scoring` judges, each profile showing the judge its own reading of the
    response (identical requests are sent once: the judge caches by content)."""
    if judge is None:
        return {}
    idx = [i for i, it in enumerate(batch) if needs_judge(it, scoring)]
    shown = [medevalkit.judge_response(batch[i].benchmark, responses[i]) if scoring == "medevalkit"
             else final_answer_span(responses[i] or "") for i in idx]
    return dict(zip(idx, judge.judge([(batch[i].question, batch[i].answer, r) for i, r in zip(idx, shown)])))


def _records_for(path: Path, ids: list[str]) -> list[dict]:
    """This run's records in item order (a file may hold extra ids from an earlier, larger run)."""
    by_id = {r["id"]: r for r in read_jsonl(path, skip_torn=True)}
    return [by_id[i] for i in ids if i in by_id]


_SHARED_FIELDS = ("id", "response", "answer", "answer_type", "categories")
MAX_DISAGREEMENT_EXAMPLES = 20


def protocol(scoring: str, judge: Any, budget: Any, reasoning: bool) -> dict[str, Any]:
    """What made a number: scoring profile, judge model (or rule only) and its prompt, token budget,
    prompt set."""
    out = {"scoring": scoring, "judge": getattr(judge, "model", None) or "rule only",
           "max_new_tokens": budget,
           "prompt_set": ("medevalkit" if scoring == "medevalkit" else "lingshu") + ("-reasoning" if reasoning else "")}
    if getattr(judge, "prompt_hash", None):
        out["judge_prompt"] = "medevalkit" if getattr(judge, "prompt_is_medevalkit", None) else medevalkit.JUDGE_PROMPT_DIFFERS
        out["judge_prompt_sha256"] = judge.prompt_hash
    return out


def _request_record(req: Any, engine: Any, item: BenchmarkItem, checkpoint: Any, scoring: str) -> dict[str, Any]:
    """lmms-eval-style per-item facts: prompt hash and template, checkpoint, and token counts and
    finish reason where the engine reports them."""
    text = "".join(m["content"] for m in req.messages if isinstance(m.get("content"), str))
    info = (getattr(engine, "last_info", None) or {}).get(req.id, {})
    template = (f"medevalkit/{prompts.medevalkit_kind(item)}" if scoring == "medevalkit"
                else neutral.prompt_kind(item.answer_type, item.answer))
    rec = {"prompt_sha256": hashlib.sha256(text.encode()).hexdigest()[:16], "template": template,
           "checkpoint": checkpoint}
    # only engines that report them (`last_info`, keyed by request id) fill these in
    rec.update({k: info[k] for k in ("input_tokens", "output_tokens", "finish_reason") if k in info})
    return rec


def _disagreements(bdir: Path, records: list[dict]) -> int:
    """Items whose verdict differs between the two profiles; the first few go to disagreements.jsonl."""
    diff = [r for r in records if r.get("alt") and r["answer_type"] != "report"
            and bool(r.get("correct")) != bool(r["alt"].get("correct"))]
    with (bdir / "disagreements.jsonl").open("w", encoding="utf-8") as fh:
        for r in diff[:MAX_DISAGREEMENT_EXAMPLES]:
            fh.write(json.dumps({"id": r["id"], "response": r["response"], "answer": r["answer"],
                                 "correct": r.get("correct"), "extracted": r.get("extracted"),
                                 "alt": r["alt"]}, ensure_ascii=False) + "\n")
    return len(diff)


def _finish(bdir: Path, records: list[dict], settings: dict, with_meteor: bool,
            report_metrics: Mapping[str, Any] | None = None) -> dict[str, Any]:
    scoring = settings.get("scoring", "strict")
    metrics = aggregate(records, with_meteor=with_meteor, scoring=scoring, report_metrics=report_metrics)
    qa = [r for r in records if r["answer_type"] != "report"]
    if qa:
        metrics["accuracy_ci95"] = bootstrap_ci([r.get("correct") for r in qa])
    metrics["length_truncated"] = sum(r.get("finish_reason") == "length" for r in records)
    alts = [dict(r, **r["alt"]) for r in records if r.get("alt")]
    if alts:
        other = next(p for p in PROFILES if p != scoring)
        alt = aggregate(alts, with_meteor=False, scoring=other)
        keep = ("accuracy", "closed_accuracy", "open_accuracy", "mcq_accuracy", "unparsed", "rouge_l", "cider", "bleu_4")
        metrics["other_profile"] = {"scoring": other, "from_same_generation": True,
                                    **{k: alt[k] for k in keep if alt.get(k) is not None},
                                    "disagreements": _disagreements(bdir, records)}
    metrics["settings"] = settings
    write_json(bdir / "metrics.json", metrics)
    return metrics


def merge_chunks(bdir: Path, num_chunks: int, *, with_meteor: bool = True,
                 report_metrics: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """Merge chunk predictions into predictions.jsonl + metrics.json once every chunk is done."""
    markers = [bdir / f"chunk.{i}-of-{num_chunks}.json" for i in range(num_chunks)]
    if not all(m.exists() for m in markers):
        return None
    rows, settings = [], None
    for i, marker in enumerate(markers):
        info = json.loads(marker.read_text(encoding="utf-8"))
        settings = info["settings"]
        by_id = {r["id"]: r for r in read_jsonl(bdir / _chunk_name(num_chunks, i), skip_torn=True)}
        # chunk i holds rows i, i + n, i + 2n, ...: interleave back into benchmark order
        rows += [(i + k * num_chunks, by_id[rid]) for k, rid in enumerate(info["ids"]) if rid in by_id]
    records = [r for _, r in sorted(rows, key=lambda x: x[0])]
    with atomic_open(bdir / "predictions.jsonl") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return _finish(bdir, records, dict(settings or {}, num_chunks=num_chunks), with_meteor, report_metrics)


def prompt_templates(reasoning: bool, scoring: str = "strict") -> dict[str, str]:
    """The templates in force, recorded with every result."""
    if scoring == "medevalkit":
        return {f"{lang}/{kind}": pair[int(reasoning)] for (lang, kind), pair in prompts.MEK_INSTRUCTIONS.items()}
    if reasoning:
        return dict(neutral.REASONING_SUFFIX, report=neutral.REPORT_PROMPT)
    return {"mcq": neutral.MCQ_INSTRUCTION, "yes_no": neutral.YES_NO_INSTRUCTION, "closed": neutral.CLOSED_INSTRUCTION,
            "open": neutral.OPEN_INSTRUCTION, "report": neutral.REPORT_PROMPT}


def evaluate(benchmarks: Mapping[str, Any], engine: Any, out_dir: Path, *, scoring: str = "strict", judge: Any = None,
             reasoning: bool = False, max_images: int | None = None, num_chunks: int = 1, chunk_idx: int = 0,
             limit: int | None = None, batch_size: int = 32, max_new_tokens: int | None = None,
             with_meteor: bool = True, report_metrics: Mapping[str, Any] | None = None,
             run_info: Mapping[str, Any] | None = None, progress: bool = True) -> dict[str, dict]:
    """Metrics per benchmark name (a chunk run returns only the benchmarks it could merge).
    `run_info` (e.g. the model's pixel budget, the checkpoint) is recorded in each metrics.json."""
    out: dict[str, dict] = {}
    for name, bench in benchmarks.items():
        m = run_benchmark(name, bench, engine, Path(out_dir), scoring=scoring, judge=judge, reasoning=reasoning,
                          max_images=max_images, num_chunks=num_chunks, chunk_idx=chunk_idx, limit=limit,
                          batch_size=batch_size, max_new_tokens=max_new_tokens, with_meteor=with_meteor,
                          report_metrics=report_metrics, run_info=run_info, progress=progress)
        if m is not None:
            out[name] = m
    return out
