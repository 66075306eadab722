"""Evaluation-kit throughput on one CPU core.

1. Scoring 100,000 MCQ predictions (OmniMedVQA size): records + aggregation under each profile,
   against the bare MedEvalKit-rule loop (`medevalkit.mcq_verdict` alone, what MedEvalKit's own
   scorer does per item, with our memos off). Goal: each profile < 3.7 s. Also strict with the
   option-normalisation memo switched off (before/after).
2. Report metrics on 3,858 report pairs: lingshu (BLEU-1..4, ROUGE-L, CIDEr-D) against
   pycocoevalcap (Bleu, Cider, Rouge) on the same tokens. Goal: no slower.

    python perf/eval.py [--mcq 100000] [--reports 3858] [--out perf/results/eval.json]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

from lingshu.datasets.report_generation import reference_report
from lingshu.evaluation import extract, medevalkit
from lingshu.evaluation.metrics import aggregate, score_prediction
from lingshu.evaluation.overlap_metrics import report_scores, tokenize_report
from lingshu.io import write_json
from lingshu.schema import LETTERS, BenchmarkItem

FORMS = ["{L}", "({L})", "{L}.", "{L}) {T}", "**{L}**", "Answer: {L}", "The answer is {L}", "<answer>{L}</answer>",
         "\\boxed{{{L}}}", "{T}", "I think the answer is ({L}) {T} because the image shows it.", "", "{L} or {M}"]
WORDS = ["the", "lungs", "are", "clear", "there", "is", "no", "pleural", "effusion", "or", "pneumothorax", "heart", "size", "is", "normal", "mild", "cardiomegaly", "right", "lower", "lobe", "opacity", "may", "represent", "atelectasis", "or", "pneumonia", "no", "acute", "osseous", "abnormality", "stable", "postoperative", "changes", "of", "the", "sternum", "degenerative", "changes", "of", "the", "thoracic", "spine"]


def mcq_workload(n: int, rng: random.Random):
    opts = ["X-ray", "CT", "MRI", "Ultrasound"]
    items, responses = [], []
    for i in range(n):
        gold = rng.randrange(4)
        said = gold if rng.random() < 0.6 else rng.randrange(4)
        form = FORMS[i % len(FORMS)]
        items.append(BenchmarkItem(id=str(i), benchmark="omnimedvqa", question="q", answer=LETTERS[gold],
                                   answer_type="mcq", options=opts, categories={"modality": opts[gold]}))
        responses.append(form.format(L=LETTERS[said], T=opts[said], M=LETTERS[(said + 1) % 4]))
    return items, responses


def report_workload(n: int, rng: random.Random):
    def text(k):
        return " ".join(rng.choice(WORDS) for _ in range(k)).replace(" is ", " is . ", 1)
    refs = [reference_report(text(rng.randint(20, 60)), text(rng.randint(5, 20))) for _ in range(n)]
    hyps = [reference_report(text(rng.randint(15, 60)), text(rng.randint(3, 20))) for _ in range(n)]
    return hyps, refs


def _score_all(items, responses, scoring: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    m = aggregate(score_prediction(it, r, scoring=scoring) for it, r in zip(items, responses))
    return time.perf_counter() - t0, m


def time_mcq(n: int) -> dict:
    items, responses = mcq_workload(n, random.Random(0))
    lowered = medevalkit._lowered
    medevalkit._lowered = lowered.__wrapped__  # MedEvalKit recomputes every item: no memo in the baseline
    try:
        t0 = time.perf_counter()
        for it, r in zip(items, responses):  # the bare rule loop: no records, no aggregation
            medevalkit.mcq_verdict(list(medevalkit.choice_strings("omnimedvqa", it.options)), it.answer, r)
        out = {"predictions": n, "baseline_medevalkit_rule_seconds": time.perf_counter() - t0}
    finally:
        medevalkit._lowered = lowered
    for scoring in ("strict", "medevalkit"):
        sec, m = _score_all(items, responses, scoring)
        out[scoring] = {"seconds": sec, "accuracy": m["accuracy"], "unparsed": m["unparsed"]}
    memo = extract._normalized_options
    extract._normalized_options = lambda opts: tuple(extract.normalize_answer(o) for o in opts)
    try:
        out["strict_without_option_memo_seconds"] = _score_all(items, responses, "strict")[0]
    finally:
        extract._normalized_options = memo
    return out


def time_reports(n: int) -> dict:
    hyps, refs = report_workload(n, random.Random(1))
    t0 = time.perf_counter()
    ours = report_scores(hyps, refs, with_meteor=False)
    ours_s = time.perf_counter() - t0
    out = {"pairs": n, "lingshu_seconds": ours_s, "lingshu": ours}
    try:
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge
    except ImportError:
        return out
    res = {i: [" ".join(tokenize_report(h))] for i, h in enumerate(hyps)}
    gts = {i: [" ".join(tokenize_report(r))] for i, r in enumerate(refs)}
    t0 = time.perf_counter()
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    cider, _ = Cider().compute_score(gts, res)
    Rouge().compute_score(gts, res)
    out["pycocoevalcap_seconds"] = time.perf_counter() - t0
    out["max_abs_diff_bleu_cider"] = max([abs(ours[f"bleu_{k + 1}"] - 100 * bleu[k]) for k in range(4)]
                                         + [abs(ours["cider"] - 100 * cider)])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mcq", type=int, default=100_000)
    ap.add_argument("--reports", type=int, default=3858)
    ap.add_argument("--out", default="perf/results/eval.json")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    mcq = time_mcq(args.mcq)
    rep = time_reports(args.reports)
    n = f"{mcq['predictions']:,}"
    rows = [(f"bare MedEvalKit-rule loop, {n} MCQ", mcq["baseline_medevalkit_rule_seconds"]),
            (f"score {n} MCQ, strict", mcq["strict"]["seconds"]),
            (f"score {n} MCQ, strict, option memo off", mcq["strict_without_option_memo_seconds"]),
            (f"score {n} MCQ, medevalkit", mcq["medevalkit"]["seconds"]),
            (f"report metrics, lingshu ({rep['pairs']:,} pairs)", rep["lingshu_seconds"])]
    if "pycocoevalcap_seconds" in rep:
        rows.append((f"report metrics, pycocoevalcap ({rep['pairs']:,} pairs)", rep["pycocoevalcap_seconds"]))
    print(f"{'workload (one core)':<48} {'seconds':>8}")
    for name, sec in rows:
        print(f"{name:<48} {sec:>8.2f}")
    if "max_abs_diff_bleu_cider" in rep:
        print(f"max |lingshu - pycocoevalcap| on BLEU/CIDEr: {rep['max_abs_diff_bleu_cider']:.2e}")
    write_json(Path(args.out), {"mcq": mcq, "reports": rep})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
