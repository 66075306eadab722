"""The MedEvalKit prompt texts (the Lingshu paper), word for word."""

from lingshu.evaluation.prompts import build_prompt, build_request
from lingshu.schema import BenchmarkItem


def mk(kind, answer="x", options=None, images=1, context=None):
    return BenchmarkItem(id="i", benchmark="b", question="What is shown?", answer=answer, answer_type=kind,
                         options=options, images=[b"img%d" % k for k in range(images)], context=context)


def test_mcq_prompt():
    p = build_prompt(mk("mcq", "A", ["CT", "MRI"]))
    assert p == ("\nQuestion: What is shown?\nOptions: \nA. CT\nB. MRI\n"
                 "Answer with the option's letter from the given choices directly.")


def test_closed_open_yes_no_report_prompts():
    assert build_prompt(mk("closed", "yes")) == "What is shown?\nPlease output 'yes' or 'no'(no extra output)."
    assert build_prompt(mk("closed", "left")) == "What is shown?\nAnswer the question using a single word or phrase."
    assert build_prompt(mk("open", "lung")) == "What is shown?\nPlease answer the question concisely."
    assert build_prompt(mk("report", "Findings: a Impression: b")) == (
        "You are a helpful assistant. Please generate a report for the given images, including both findings and "
        "impressions. Return the report in the following format: Findings: {} Impression: {}.")


def test_reasoning_variants_ask_for_boxed():
    for it in (mk("mcq", "A", ["CT", "MRI"]), mk("closed", "yes"), mk("open", "lung")):
        assert "\\boxed{}" in build_prompt(it, reasoning=True)
    assert build_request(mk("open"), reasoning=True).max_new_tokens == 2048


def test_context_precedes_question():
    p = build_prompt(mk("mcq", "A", ["yes", "no", "maybe"], context="Abstract text."))
    assert p.startswith("\nQuestion: Abstract text.\nWhat is shown?\nOptions: ")


def test_request_passes_every_image_in_order_up_to_the_cap():
    # MedEvalKit defect: only the first image of multi-image MMMU questions was passed.
    it = mk("mcq", "A", ["CT", "MRI"], images=3)
    req = build_request(it, max_images=6)
    assert req.images == [b"img0", b"img1", b"img2"]
    assert req.messages[0]["content"].count("<image>") == 3
    assert req.temperature == 0.0
    assert build_request(it, max_images=1).images == [b"img0"]


def test_text_only_request_has_no_placeholder():
    req = build_request(mk("open", images=0), max_new_tokens=7)
    assert "<image>" not in req.messages[0]["content"] and req.max_new_tokens == 7


def _golden_item(case):
    from lingshu.schema import BenchmarkItem

    it = case["item"]
    kind = it.get("answer_type", "mcq")
    meta = {k: it[k] for k in ("question_full", "choices") if k in it}
    if "slake_type" in it:
        meta["answer_type"] = it["slake_type"]
    return BenchmarkItem(id="x", benchmark=case["benchmark"], question=it.get("question", ""),
                         answer=it.get("answer", "Findings: a Impression: b"), answer_type=kind,
                         options=it.get("options"), context=it.get("context"),
                         categories={"language": it.get("language", "en")}, meta=meta)


def test_medevalkit_golden_prompt_per_benchmark():
    # Expected strings: MedEvalKit's own prompt functions (question_formats.py, MMMU's construct_prompt,
    # MIMIC-CXR's inline prompt) applied as each paper-era loader applies them.
    import json
    from pathlib import Path

    from lingshu.evaluation.prompts import build_prompt

    cases = json.loads((Path(__file__).parent / "data" / "medevalkit_prompts.json").read_text(encoding="utf-8"))
    benches = {c["benchmark"] for c in cases}
    assert {"medqa", "medmcqa", "pubmedqa", "pmc_vqa", "omnimedvqa", "supergpqa_med", "medbullets_op4", "medbullets_op5",
            "medxpertqa_text", "medxpertqa_mm", "vqa_rad", "path_vqa", "slake", "mmmu_med", "iu_xray", "mimic_cxr",
            "chexpert_plus"} <= benches
    for case in cases:
        assert build_prompt(_golden_item(case), scoring="medevalkit") == case["prompt"], case["benchmark"]


def test_medevalkit_request_layout():
    from lingshu.evaluation.prompts import build_request
    from lingshu.schema import IMAGE_TOKEN, BenchmarkItem

    single = BenchmarkItem(id="1", benchmark="vqa_rad", question="Is there a fracture?", answer="yes",
                           answer_type="closed", images=[b"a", b"b"])
    req = build_request(single, max_images=6, scoring="medevalkit")
    assert req.messages[0]["content"] == IMAGE_TOKEN + "Is there a fracture?\nPlease output 'yes' or 'no'(no extra output)."
    assert req.images == [b"a"] and req.max_new_tokens == 64  # the budget comes from the runner (8,192)
    multi = BenchmarkItem(id="2", benchmark="medxpertqa_mm", question="q", answer="A", answer_type="mcq",
                          options=["x", "y"], images=[b"a", b"b"])
    content = build_request(multi, max_images=6, scoring="medevalkit").messages[0]["content"]
    assert content.startswith(f"<image_1>: {IMAGE_TOKEN}<image_2>: {IMAGE_TOKEN}\nQuestion: q\nOptions: \nA. x\nB. y\n")
