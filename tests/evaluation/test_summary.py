"""summary.json / summary.md / summary.png across model labels."""

import json

from lingshu.evaluation.summary import write_summary


def metrics(acc, **kw):
    return dict({"accuracy": acc, "closed_accuracy": acc, "open_accuracy": acc / 2, "mcq_accuracy": acc,
                 "unparsed": 3, "judge_failed": 0}, **kw)


def test_paper_tables_with_published_rows(tmp_path):
    results = {"my-7b": {"vqa_rad": metrics(70.0), "slake": metrics(80.0), "medqa": metrics(60.0),
                         "iu_xray": {"rouge_l": 40.0, "cider": 150.0, "report_n": 2}}}
    paths = write_summary(results, tmp_path)
    md = paths["md"].read_text()
    assert "## Multimodal QA" in md and "## Text QA" in md and "## Report generation" in md
    # no protocol recorded: the published rows are not put beside ours
    assert "| Lingshu-7B (paper) | protocol differs: protocol not recorded |" in md
    assert "| my-7b (protocol not recorded) | - | 70.0 | 80.0 | - | - | - | - | - |" in md
    assert "RaTE" not in md and "Semb" not in md  # never-computed columns are gone
    assert json.loads(paths["json"].read_text())["my-7b"]["slake"]["accuracy"] == 80.0
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_rows_per_model_label(tmp_path):
    labels = ["untrained", "shallow_alignment", "deep_alignment", "instruction_tuning", "rl"]
    results = {lab: {"demo": metrics(20.0 + 10 * k, rouge_l=5.0 * k, open_f1=12.5)} for k, lab in enumerate(labels)}
    md = write_summary(results, tmp_path)["md"].read_text()
    assert "## demo" in md and "Multimodal QA" not in md
    for lab in labels:
        assert f"| {lab} (protocol not recorded) |" in md
    assert "| rl (protocol not recorded) | 60.0 | 60.0 | 30.0 | 12.5 | 60.0 | 20.0 | - | 3 | 0 |" in md


def _with_protocol(acc, scoring, judge, budget, **kw):
    proto = {"scoring": scoring, "judge": judge, "max_new_tokens": budget, "prompt_set": "medevalkit"}
    return metrics(acc, settings={"scoring": scoring, "protocol": proto}, **kw)


def test_published_rows_only_under_the_paper_protocol(tmp_path):
    paper = {"m": {"vqa_rad": _with_protocol(70.0, "medevalkit", "gpt-4.1-2025-04-14", 8192, accuracy_ci95=[66.0, 74.0])}}
    paper["m"]["vqa_rad"]["settings"]["protocol"].update(judge_prompt="medevalkit", judge_prompt_sha256="7b95e6fbe6904d73")
    md = write_summary(paper, tmp_path)["md"].read_text()
    assert "| Lingshu-7B (paper) | 54.0 | 67.9 |" in md
    assert "| m (medevalkit, judge gpt-4.1-2025-04-14, 8192 tokens, prompts medevalkit) | - | 70.0 [66.0, 74.0] |" in md
    # the same run with a judge prompt that is not MedEvalKit's (or not recorded) is another protocol
    paper["m"]["vqa_rad"]["settings"]["protocol"]["judge_prompt"] = "judge prompt differs from MedEvalKit's"
    md = write_summary(paper, tmp_path)["md"].read_text()
    assert "| Lingshu-7B (paper) | protocol differs: judge prompt differs from MedEvalKit's |" in md
    assert ("| m (medevalkit, judge gpt-4.1-2025-04-14, 8192 tokens, prompts medevalkit, judge prompt differs from "
            "MedEvalKit's) | - | 70.0 [66.0, 74.0] |") in md
    del paper["m"]["vqa_rad"]["settings"]["protocol"]["judge_prompt"]
    md = write_summary(paper, tmp_path)["md"].read_text()
    assert "| Lingshu-7B (paper) | protocol differs: judge prompt not recorded |" in md
    ours = {"m": {"vqa_rad": _with_protocol(70.0, "strict", "rule only", {"mcq": 64, "open": 128})}}
    md = write_summary(ours, tmp_path)["md"].read_text()
    assert ("| Lingshu-7B (paper) | protocol differs: judge rule only (paper gpt-4.1); max_new_tokens "
            "{'mcq': 64, 'open': 128} (paper 8192); scoring strict (paper medevalkit) |") in md
    assert "54.0" not in md


def test_profiles_table(tmp_path):
    m = _with_protocol(50.0, "strict", "rule only", 64,
                       other_profile={"scoring": "medevalkit", "accuracy": 75.0, "disagreements": 1})
    md = write_summary({"m": {"medqa": m}}, tmp_path)["md"].read_text()
    assert "| m | medqa | 50.0 | 75.0 | 1 |" in md
