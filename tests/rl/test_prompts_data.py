"""RL prompts from structured records: rewrites are structural, rendering goes through lingshu.prompts."""

from __future__ import annotations

from lingshu.data.sources.base import qa_sample
from lingshu.prompts import MCQ_INSTRUCTION, render_messages
from lingshu.rl.data import RLData, as_prompt, build_prompts, item_to_sample, to_open
from lingshu.schema import THINK_ANSWER_INSTRUCTION, BenchmarkItem, Sample

OPTIONS = ["Left lower lobe", "A. B. C. line", "Right upper lobe"]


def mcq(answer: str = "C", question: str = "Where is it?\nA. not an option line") -> Sample:
    return qa_sample("q1", "src", "mcq", question, answer, "mcq", [b"img"], OPTIONS, context="Chest CT, 2011.")


def test_to_open_drops_the_options_and_answers_with_the_option_text():
    s = to_open(mcq(), max_words=4)
    assert (s.options, s.answer_type, s.answer, s.template) == (None, "open", "Right upper lobe", "question")
    assert s.messages == [{"role": "user", "content": "Where is it?\nA. not an option line"}]  # question untouched
    assert as_prompt(s).messages[0]["content"] == ("<image>\nChest CT, 2011.\nWhere is it?\nA. not an option line\n"
                                                   + THINK_ANSWER_INSTRUCTION)
    assert to_open(mcq("A"), max_words=2) is None  # "Left lower lobe" is three words


def test_as_prompt_keeps_the_layout_and_swaps_the_instruction():
    s = mcq()
    trained = render_messages(s)[0]["content"]
    asked = as_prompt(s).messages[0]["content"]
    assert trained.endswith(MCQ_INSTRUCTION) and asked == trained.replace(MCQ_INSTRUCTION, THINK_ANSWER_INSTRUCTION)
    assert as_prompt(s).template is None and len(as_prompt(s).messages) == 1  # rendered once, no answer turn


def test_a_free_form_mcq_is_asked_as_written_and_never_rewritten():
    free = Sample(id="f", source="src", kind="mcq", answer="C", options=OPTIONS, answer_type="mcq",
                  messages=[{"role": "user", "content": "Pick one: A, B or C."}, {"role": "assistant", "content": "C"}])
    assert to_open(free, max_words=4) is None
    prompts, counts = build_prompts([free, mcq()], RLData(mixture=[{"source": "src"}], balance=False), seed=0)
    assert counts["mcq_rewritten_open"] == 1 and counts["kept"] == 2
    assert {p.messages[0]["content"] for p in prompts} == {
        f"Pick one: A, B or C.\n{THINK_ANSWER_INSTRUCTION}",
        f"<image>\nChest CT, 2011.\nWhere is it?\nA. not an option line\n{THINK_ANSWER_INSTRUCTION}"}


def test_a_benchmark_item_becomes_a_structured_question():
    item = BenchmarkItem(id="b1", benchmark="pmc_vqa", question="Which?", answer="MRI", answer_type="mcq",
                         options=["CT", "MRI"], images=[b"1", b"2"], context="ctx")
    s = item_to_sample(item)
    assert (s.template, s.answer, s.images, s.context, s.messages[0]["content"]) == ("question", "B", [b"1"], "ctx",
                                                                                       "Which?")
