"""The MedEvalKit prompt texts (LINGSHU.md section 6), word for word."""

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
