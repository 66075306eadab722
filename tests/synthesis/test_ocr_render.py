import io
import json

import numpy as np
from PIL import Image

from lingshu.data.demo import demo_samples
from lingshu.synthesis import Reject
from lingshu.synthesis.ocr_render import OCRRender, find_font, render_text, wrap

from .helpers import user_text

QUESTION = ("A 45-year-old man presents with crushing chest pain radiating to the left arm for two hours. "
            "Which enzyme rises first after myocardial infarction?\nA. Myoglobin\nB. Troponin I\nC. LDH\nD. CK-MB")


def ink(image: Image.Image) -> float:
    return float((np.asarray(image.convert("L")) < 128).mean())


def test_rendered_question_is_readable_size_and_inked():
    image = render_text(QUESTION, width=896, font_size=28, margin=32)
    lines = wrap(QUESTION, find_font(28), 896 - 64)
    assert image.size == (896, 64 + round(28 * 1.35) * len(lines))
    assert len(lines) >= 6  # the long first paragraph wrapped, each option on its own line
    assert 0.02 < ink(image) < 0.25  # text, not an empty page and not a black box
    # the glyphs are big: a text row spans well over 15 pixels of height
    rows = np.flatnonzero((np.asarray(image.convert("L")) < 128).any(axis=1))
    assert rows.max() - rows.min() > 15 * len(lines)


def test_wrapped_lines_fit_the_page():
    font = find_font(28)
    text = "word " * 200 + "x" * 300  # a token far wider than the page is split too
    assert all(font.getlength(line) <= 800 for line in wrap(text, font, 800))
    assert "".join(wrap(text, font, 800)).replace(" ", "") == text.replace(" ", "")


def test_ocr_samples_from_demo_text_mcqs():
    samples = list(demo_samples("train", seed=0, num_images=2, num_text=8, planted=False))
    syn = OCRRender()
    out = list(syn(samples))
    assert len(out) == 8  # image samples are not exam questions
    text_mcqs = [s for s in samples if not s.images]
    for s, src in zip(out, text_mcqs):
        assert s.messages[0]["content"].startswith("<image>\n") and s.meta["generator"] == "rule"
        image = Image.open(io.BytesIO(s.images[0]))
        assert image.width == 896 and ink(image) > 0.01
        letter = src.answer
        assert f"The answer is {letter}. {src.options['ABCD'.index(letter)]}." in s.messages[1]["content"]
        assert "Answer with the option's letter" not in s.messages[1]["content"]


def test_model_reasoning_kept_only_on_exact_answer(server, engine, tmp_path):
    samples = list(demo_samples("train", seed=0, num_images=0, num_text=3, planted=False))

    def script(body):
        text = user_text(body)
        q = next(s for s in samples if s.question.splitlines()[0] in text)
        letter = q.answer if q is not samples[2] else "Z"  # the third gets a wrong answer
        return json.dumps({"reasoning": "Recall the physiology.", "answer": letter})

    server.script = script
    syn = OCRRender(engine, cache_path=tmp_path / "c.sqlite")
    out = list(syn(samples))
    assert [o.id for o in out] == [f"{samples[0].id}-ocr", f"{samples[1].id}-ocr", samples[2].id]
    assert isinstance(out[2], Reject) and out[2].reason == "answer mismatch"
    assert out[0].messages[1]["content"].startswith("Recall the physiology.\n\nThe answer is ")
    assert out[0].meta["generator"] == "scripted-mllm"
    assert all("Answer with the option" not in user_text(b) for b in server.bodies)


def test_the_exam_page_prints_no_instruction_meant_for_a_model():
    from lingshu.data.sources.base import qa_sample
    from lingshu.prompts import exam_text

    mcq = qa_sample("m", "medqa", "mcq", "Which drug?", "B", "mcq", options=["Aspirin", "Metformin"],
                    context="A 50-year-old man.")
    assert exam_text(mcq) == "Question: A 50-year-old man.\nWhich drug?\nOptions: \nA. Aspirin\nB. Metformin"
    for kind, answer in (("open", "Lipase"), ("closed", "yes")):
        q = qa_sample(kind, "pmc", "vqa", "Name the enzyme.", answer, kind, context="From a review.")
        assert exam_text(q) == "From a review.\nName the enzyme."
        out = next(iter(OCRRender()([q])))
        assert out.messages[1]["content"] == f"The image shows this question:\n{exam_text(q)}\nThe answer is {answer}."
