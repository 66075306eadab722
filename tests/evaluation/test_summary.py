"""summary.json / summary.md / summary.png across model labels."""

import json

from lingshu.evaluation.report import write_summary


def metrics(acc, **kw):
    return dict({"accuracy": acc, "closed_accuracy": acc, "open_accuracy": acc / 2, "mcq_accuracy": acc,
                 "unparsed": 3, "judge_failed": 0}, **kw)


def test_paper_tables_with_published_rows(tmp_path):
    results = {"my-7b": {"vqa_rad": metrics(70.0), "slake": metrics(80.0), "medqa": metrics(60.0),
                         "iu_xray": {"rouge_l": 40.0, "cider": 150.0, "report_n": 2}}}
    paths = write_summary(results, tmp_path)
    md = paths["md"].read_text()
    assert "## Multimodal QA" in md and "## Text QA" in md and "## Report generation" in md
    assert "| Lingshu-7B (paper) | 54.0 | 67.9 | 83.1 | 61.9 | 56.3 | 82.9 | 26.7 | 61.8 |" in md
    assert "| Qwen2.5-VL-7B (paper) | 50.6 | 64.5 | 67.2 | 44.1 | 51.9 | 63.6 | 22.3 | 52.0 |" in md
    assert "| my-7b | - | 70.0 | 80.0 | - | - | - | - | - |" in md
    assert json.loads(paths["json"].read_text())["my-7b"]["slake"]["accuracy"] == 80.0
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_rows_per_model_label(tmp_path):
    labels = ["untrained", "shallow_alignment", "deep_alignment", "instruction_tuning", "rl"]
    results = {lab: {"demo": metrics(20.0 + 10 * k, rouge_l=5.0 * k, open_f1=12.5)} for k, lab in enumerate(labels)}
    md = write_summary(results, tmp_path)["md"].read_text()
    assert "## demo" in md and "Multimodal QA" not in md
    for lab in labels:
        assert f"| {lab} |" in md
    assert "| rl | 60.0 | 60.0 | 30.0 | 12.5 | 60.0 | 20.0 | - | 3 | 0 |" in md
