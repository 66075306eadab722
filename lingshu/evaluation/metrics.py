"""Scoring one prediction and aggregating a benchmark's predictions into metrics.

Two profiles:
- `strict` (default): no guessing. MCQ by `extract_mcq_letter`; closed yes/no by whole word,
  other closed by normalised exact match; open by the judge when one runs, else exact match
  and token F1 (reported separately). Empty/ambiguous responses are wrong and counted `unparsed`.
- `medevalkit`: MedEvalKit's paper-era rules (`medevalkit.py`), to reproduce published tables: MCQ by
  its `judge_multi_choice` (similarity fallback included), exact yes/no on closed VQA-RAD/PathVQA,
  the judge on every other closed/open question and on every SLAKE question. Its crash and
  double-counting defects are not reproduced (docs/EVAL_PROTOCOLS.md).
A judge failure is counted in `judge_failed`; `strict` leaves it out of accuracy, `medevalkit`
counts it wrong (as MedEvalKit does).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lingshu.evaluation import medevalkit
from lingshu.evaluation.extract import closed_match, extract_mcq_letter, final_answer_span, token_f1
from lingshu.evaluation.overlap_metrics import report_scores
from lingshu.schema import BenchmarkItem
from lingshu.text import normalize_answer

PROFILES = ("strict", "medevalkit")
JUDGED_EVERYWHERE = ("slake",)  # MedEvalKit sends every SLAKE question to the judge
YES_NO = ("yes", "no")


def _check_profile(scoring: str) -> None:
    if scoring not in PROFILES:
        raise ValueError(f"eval.scoring={scoring!r} is not one of {PROFILES}")


def needs_judge(item: BenchmarkItem, scoring: str = "strict") -> bool:
    """Whether this item's verdict comes from the LLM judge (when one is configured)."""
    _check_profile(scoring)
    if item.answer_type == "open":
        return True
    if scoring != "medevalkit" or item.answer_type != "closed":
        return False
    # MedEvalKit: SLAKE is judged throughout; elsewhere only yes/no answers are rule-scored.
    return item.benchmark in JUDGED_EVERYWHERE or item.answer.strip().lower() not in YES_NO


def score_prediction(item: BenchmarkItem, response: str | None, *, scoring: str = "strict",
                     judge: dict[str, Any] | None = None) -> dict[str, Any]:
    """One predictions.jsonl record. `judge` is the judge's result for this item, if it ran:
    {"correct": bool | None, "raw": str}; correct None means the judgement failed."""
    _check_profile(scoring)
    response = response or ""
    rec: dict[str, Any] = {"id": item.id, "response": response, "answer": item.answer,
                           "answer_type": item.answer_type, "categories": dict(item.categories)}
    kind = item.answer_type
    if kind == "report":
        rec.update(extracted=response.strip(), parsed=bool(response.strip()), correct=None)
        if scoring == "medevalkit" and "findings" in item.meta:
            rec["reference"] = medevalkit.report_reference(item.meta["findings"], item.meta.get("impression"))
        return rec
    if kind == "mcq" and scoring == "medevalkit":
        choices = medevalkit.choice_strings(item.benchmark, list(item.options or []), item.meta.get("choices"))
        gold = item.answer_letter or item.answer  # an answer matching no option stays text, as there
        ok, letter, rule = medevalkit.mcq_verdict(choices, gold, response,
                                                  tag_prepass=item.benchmark not in medevalkit.NO_TAG_PREPASS)
        rec.update(extracted=letter, parsed=rule != "similarity", correct=ok, rule=rule)
    elif kind == "mcq":
        letter = extract_mcq_letter(response, item.options)
        gold = item.answer_letter
        rec.update(extracted=letter, parsed=letter is not None, correct=letter is not None and letter == gold)
    elif kind == "closed" and scoring == "medevalkit" and judge is None:
        ok, head = medevalkit.yes_no_verdict(item.answer, response)
        rec.update(extracted=head, parsed=bool(head), correct=ok)
    elif kind == "closed":
        ok, parsed = closed_match(response, item.answer)
        rec.update(extracted=normalize_answer(final_answer_span(response)), parsed=parsed, correct=ok)
    else:  # open
        pred = final_answer_span(response)
        exact = normalize_answer(pred) == normalize_answer(item.answer) and bool(normalize_answer(pred))
        rec.update(extracted=pred, parsed=bool(pred), exact=exact, f1=token_f1(pred, item.answer), correct=exact)
    if judge is not None:
        rec["judge"] = judge
        # None: the judge failed; strict leaves it out of accuracy, MedEvalKit counts it wrong
        failed_as = False if scoring == "medevalkit" else None
        rec["correct"] = judge.get("correct") if judge.get("correct") is not None else failed_as
    return rec


def bootstrap_ci(correct: list[bool | None], *, n_boot: int = 2000, seed: int = 0) -> list[float] | None:
    """Percentile bootstrap 95% interval (%) of an accuracy over the items with a verdict. Resampling
    n right/wrong items with replacement is exactly a Binomial(n, k/n) draw, so no per-item loop."""
    import numpy as np

    vals = [bool(c) for c in correct if c is not None]
    if not vals:
        return None
    n = len(vals)
    means = 100.0 * np.random.default_rng(seed).binomial(n, sum(vals) / n, size=n_boot) / n
    lo, hi = np.percentile(means, [2.5, 97.5])
    return [float(lo), float(hi)]


def _acc(recs: list[dict]) -> tuple[int, float | None]:
    scored = [r for r in recs if r.get("correct") is not None]
    return len(recs), (100.0 * sum(bool(r["correct"]) for r in scored) / len(scored) if scored else None)


def aggregate(records: Iterable[dict[str, Any]], *, with_meteor: bool = True, scoring: str = "strict",
              report_metrics: Mapping[str, Callable] | None = None) -> dict[str, Any]:
    """Metrics of one benchmark from its prediction records (accuracy numbers in %); report metrics
    under `scoring=medevalkit` are MedEvalKit's computation (`medevalkit.report_scores`).
    `report_metrics`: model-based plugins `(hyps, refs) -> {name: value}` run on report items."""
    records = list(records)
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_type[r["answer_type"]].append(r)
    qa = [r for r in records if r["answer_type"] != "report"]
    out: dict[str, Any] = {"n": len(records)}
    if qa:
        out["accuracy"] = _acc(qa)[1]
        out["correct"] = sum(bool(r.get("correct")) for r in qa)
        out["unparsed"] = sum(not r["parsed"] for r in qa)
        out["judge_failed"] = sum("judge" in r and r["judge"].get("correct") is None for r in qa)
    for kind in ("closed", "open", "mcq"):
        recs = by_type.get(kind)
        if recs:
            out[f"{kind}_n"], out[f"{kind}_accuracy"] = _acc(recs)
    if by_type.get("open"):
        opens = by_type["open"]
        out["open_exact"] = 100.0 * sum(bool(r.get("exact")) for r in opens) / len(opens)
        out["open_f1"] = 100.0 * sum(r.get("f1", 0.0) for r in opens) / len(opens)
        out["open_scored_by"] = "judge" if any("judge" in r for r in opens) else "exact_match"
    if by_type.get("report"):
        reps = by_type["report"]
        out["report_n"] = len(reps)
        hyps, refs = [r["response"] for r in reps], [r["answer"] for r in reps]
        if scoring == "medevalkit":
            out.update(medevalkit.report_scores(hyps, [r.get("reference") or f"{r['answer']}." for r in reps]))
        else:
            out.update(report_scores(hyps, refs, with_meteor=with_meteor))
        for plugin in (report_metrics or {}).values():
            out.update(plugin(hyps, refs))
    out["by_category"] = _by_category(qa)
    return out


def _by_category(records: list[dict]) -> dict[str, dict[str, dict[str, Any]]]:
    groups: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        for key, value in (r.get("categories") or {}).items():
            groups[key][str(value)].append(r)
    return {key: {value: dict(zip(("n", "accuracy"), _acc(recs))) for value, recs in sorted(vals.items())}
            for key, vals in sorted(groups.items())}
