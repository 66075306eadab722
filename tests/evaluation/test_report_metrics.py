"""Report metrics equal the reference implementations on the same tokens (to 1e-6)."""

import random
import shutil

import pytest

from lingshu.datasets.report_generation import reference_report
from lingshu.evaluation.overlap_metrics import lcs_length, report_scores, rouge_l_f, tokenize_report


def _corpus(n=300, seed=0):
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(40)] + ["lung", "effusion", "normal", "."]

    def sent(lo):
        return " ".join(rng.choice(vocab) for _ in range(rng.randint(lo, 40)))
    refs = [reference_report(sent(1), sent(0)) for _ in range(n)]
    hyps = [sent(0) for _ in range(n)]
    hyps[0], hyps[1] = "", refs[1]  # an empty response and a perfect one
    return hyps, refs


def test_tokenisation():
    assert tokenize_report("Findings: Clear lungs. Impression: Normal.") == \
        ["findings:", "clear", "lungs", ".", "impression:", "normal", "."]
    assert reference_report("a", "b") == "Findings: a Impression: b"


def test_bleu_cider_equal_pycocoevalcap():
    bleu_mod = pytest.importorskip("pycocoevalcap.bleu.bleu")
    cider_mod = pytest.importorskip("pycocoevalcap.cider.cider")
    hyps, refs = _corpus()
    ours = report_scores(hyps, refs, with_meteor=False)
    res = {i: [" ".join(tokenize_report(h))] for i, h in enumerate(hyps)}
    gts = {i: [" ".join(tokenize_report(r))] for i, r in enumerate(refs)}
    bleu, _ = bleu_mod.Bleu(4).compute_score(gts, res, verbose=0)
    cider, _ = cider_mod.Cider().compute_score(gts, res)
    for k in range(4):
        assert ours[f"bleu_{k + 1}"] == pytest.approx(100 * bleu[k], abs=1e-6)
    assert ours["cider"] == pytest.approx(100 * cider, abs=1e-6)


def test_rouge_l_equals_rouge_score():
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")

    class SpaceTokenizer:  # the same tokens on both sides
        def tokenize(self, text):
            return text.split()
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=SpaceTokenizer())
    hyps, refs = _corpus(seed=1)
    ours = report_scores(hyps, refs, with_meteor=False)["rouge_l"]
    theirs = sum(scorer.score(" ".join(tokenize_report(r)), " ".join(tokenize_report(h)))["rougeL"].fmeasure
                 for h, r in zip(hyps, refs)) / len(hyps)
    assert ours == pytest.approx(100 * theirs, abs=1e-6)


def test_empty_response_scores_zero_without_crashing():
    # MedEvalKit defect: an empty response crashed ROUGE.
    assert rouge_l_f([], ["a", "b"]) == 0.0
    scores = report_scores(["", None], ["Findings: a . Impression: b .", "Findings: c Impression: d"], with_meteor=False)
    assert scores["rouge_l"] == 0.0 and scores["cider"] == 0.0


def test_lcs_bit_parallel_matches_dynamic_programming():
    rng = random.Random(3)
    for _ in range(200):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 70))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 70))]
        dp = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(len(a)):
            for j in range(len(b)):
                dp[i + 1][j + 1] = dp[i][j] + 1 if a[i] == b[j] else max(dp[i][j + 1], dp[i + 1][j])
        assert lcs_length(a, b) == dp[-1][-1]


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        report_scores(["a"], [])


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="METEOR needs Java")
def test_meteor_equals_pycocoevalcap():
    meteor_mod = pytest.importorskip("pycocoevalcap.meteor.meteor")
    hyps, refs = _corpus(n=20, seed=2)
    hyps[0] = "x"  # the jar is given non-empty text here; empty responses are covered above
    ours = report_scores(hyps, refs)["meteor"]
    res = {i: [" ".join(tokenize_report(h))] for i, h in enumerate(hyps)}
    gts = {i: [" ".join(tokenize_report(r))] for i, r in enumerate(refs)}
    theirs, _ = meteor_mod.Meteor().compute_score(gts, res)
    assert ours == pytest.approx(100 * theirs, abs=1e-6)
