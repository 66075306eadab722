"""Scoring and aggregation, checked against hand-computed numbers, including the MedEvalKit
counting defects of the Lingshu paper's protocol."""

import pytest

from lingshu.evaluation.metrics import aggregate, needs_judge, score_prediction
from lingshu.schema import BenchmarkItem


def item(i, kind, answer, bench="vqa_rad", options=None, **cats):
    return BenchmarkItem(id=f"{bench}-{i}", benchmark=bench, question=f"q{i}", answer=answer, answer_type=kind,
                         options=options, categories=cats)


OK = {"correct": True, "raw": "<judge>0</judge>"}
WRONG = {"correct": False, "raw": "<judge>1</judge>"}
FAILED = {"correct": None, "raw": "garbled"}


def test_pooled_accuracy_closed_plus_open_divided_once():
    # 3 closed (2 right) + 2 open (1 judged right): pooled = 3/5, closed 2/3, open 1/2.
    # MedEvalKit divided open accuracy by the total twice.
    recs = [score_prediction(item(0, "closed", "yes"), "yes"),
            score_prediction(item(1, "closed", "no"), "No."),
            score_prediction(item(2, "closed", "left"), "right"),
            score_prediction(item(3, "open", "pleural effusion"), "effusion", judge=OK),
            score_prediction(item(4, "open", "liver"), "spleen", judge=WRONG)]
    m = aggregate(recs)
    assert m["accuracy"] == pytest.approx(60.0)
    assert m["closed_accuracy"] == pytest.approx(200 / 3)
    assert m["open_accuracy"] == pytest.approx(50.0)
    assert m["correct"] == 3 and m["n"] == 5
    assert m["open_scored_by"] == "judge"


def test_closed_questions_not_zeroed_when_judge_runs():
    # MedEvalKit defect: PathVQA closed questions scored 0 when the judge was on.
    it = item(0, "closed", "yes", bench="path_vqa")
    assert not needs_judge(it, "strict") and not needs_judge(it, "medevalkit")
    rec = score_prediction(it, "yes")
    assert rec["correct"] is True and "judge" not in rec


def test_slake_closed_judged_once_in_medevalkit_profile():
    # MedEvalKit sends every SLAKE question to the judge and counted closed ones twice.
    closed = item(0, "closed", "yes", bench="slake")
    assert needs_judge(closed, "medevalkit") and not needs_judge(closed, "strict")
    recs = [score_prediction(closed, "yes", scoring="medevalkit", judge=OK),
            score_prediction(item(1, "open", "brain", bench="slake"), "brain", scoring="medevalkit", judge=WRONG)]
    m = aggregate(recs)
    assert m["n"] == 2 and m["closed_n"] == 1 and m["accuracy"] == pytest.approx(50.0)


def test_judge_failed_counted_not_wrong():
    recs = [score_prediction(item(0, "open", "a"), "a", judge=OK),
            score_prediction(item(1, "open", "b"), "x", judge=FAILED),
            score_prediction(item(2, "closed", "yes"), "no")]
    m = aggregate(recs)
    assert m["judge_failed"] == 1
    assert m["accuracy"] == pytest.approx(50.0)  # 1 right of the 2 that were scored
    assert m["open_accuracy"] == pytest.approx(100.0)


def test_open_without_judge_reports_exact_and_f1():
    recs = [score_prediction(item(0, "open", "left lung"), "the left lung"),
            score_prediction(item(1, "open", "left lung"), "left")]
    m = aggregate(recs)
    assert m["open_exact"] == pytest.approx(50.0)
    assert m["open_f1"] == pytest.approx(100 * (1.0 + 2 / 3) / 2)
    assert m["open_accuracy"] == pytest.approx(50.0)  # exact match stands in without a judge
    assert m["open_scored_by"] == "exact_match"


def test_mcq_unparsed_counted_and_wrong():
    opts = ["a", "b", "c", "d"]
    recs = [score_prediction(item(i, "mcq", "A", options=opts, modality="CT"), r)
            for i, r in enumerate(["A", "", "A or B", "B", "(A)"])]
    m = aggregate(recs)
    assert m["mcq_accuracy"] == pytest.approx(40.0)
    assert m["unparsed"] == 2
    assert m["by_category"]["modality"]["CT"] == {"n": 5, "accuracy": pytest.approx(40.0)}


def test_medevalkit_closed_exact_yes_no():
    it = item(0, "closed", "yes", bench="vqa_rad")
    assert score_prediction(it, "Yes.", scoring="medevalkit")["correct"] is True
    assert score_prediction(it, "yes, there is", scoring="medevalkit")["correct"] is False
    assert score_prediction(it, "yes, there is")["correct"] is True  # strict: whole word


def test_reports_scored_in_aggregate():
    recs = [score_prediction(item(0, "report", "Findings: a b . Impression: c ."), "Findings: a b . Impression: c ."),
            score_prediction(item(1, "report", "Findings: x . Impression: y ."), "")]
    m = aggregate(recs, with_meteor=False)
    assert m["report_n"] == 2 and "accuracy" not in m
    assert m["rouge_l"] == pytest.approx(50.0)


def test_unknown_profile_raises():
    with pytest.raises(ValueError, match="eval.scoring"):
        score_prediction(item(0, "closed", "yes"), "yes", scoring="lenient")


def test_medevalkit_report_metrics_use_its_reference_and_count_empties():
    from lingshu.evaluation import medevalkit

    studies = [("The heart is normal. No effusion.", "No acute disease."), ("Lungs are clear.", "Normal chest.")]
    items = [BenchmarkItem(id=str(i), benchmark="iu_xray", question="", answer=f"Findings: {f} Impression: {im}",
                           answer_type="report", meta={"findings": f, "impression": im})
             for i, (f, im) in enumerate(studies)]
    responses = ["Findings: The heart is normal. Impression: No acute disease.", ""]
    recs = [score_prediction(it, r, scoring="medevalkit") for it, r in zip(items, responses)]
    assert recs[0]["reference"] == "Findings: The heart is normal. No effusion. Impression: No acute disease.."
    m = aggregate(recs, scoring="medevalkit")
    want = medevalkit.report_scores(responses, [r["reference"] for r in recs])
    assert m["rouge_l"] == pytest.approx(want["rouge_l"]) and m["bleu_1"] == pytest.approx(want["bleu_1"])
    one = medevalkit.report_scores(responses[:1], [recs[0]["reference"]])
    assert m["rouge_l"] == pytest.approx(one["rouge_l"] / 2)  # the empty response: 0, still counted
