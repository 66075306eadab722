import json

from lingshu.schema import THINK_ANSWER_INSTRUCTION, Sample
from lingshu.synthesis import Reject, apply
from lingshu.synthesis.cot_distill import CoTDistill

from .helpers import png, user_text


def question(i: int, text: str, answer_type: str = "closed", image: bool = True) -> Sample:
    options = ["Liver", "Spleen", "Kidney", "Heart"] if answer_type == "mcq" else None
    prompt = f"{text}\nA. Liver\nB. Spleen\nC. Kidney\nD. Heart" if options else text
    answer = "B" if options else "yes"
    return Sample(id=f"q{i}", source="test", kind="mcq" if options else "vqa", images=[png(i)] if image else [],
                  messages=[{"role": "user", "content": ("<image>\n" if image else "") + prompt},
                            {"role": "assistant", "content": answer}],
                  answer=answer, options=options, answer_type=answer_type)


def script(body):
    text = user_text(body)
    greedy = body["temperature"] == 0
    if text.startswith("You check whether"):  # the verifier
        if "GOOD" in text:
            return "Consistent. The steps lead to the reference."
        if "WRONG" in text:
            return "Inconsistent. The solution picks another option."
        if "HESITANT" in text:
            return "I think it is fine." if greedy else "Consistent. Fine."
    if "BADJSON" in text:
        return "{reasoning: unquoted}"
    return json.dumps({"reasoning": f"Step 1: look. Step 2: conclude. ({text.splitlines()[0][:40]})", "answer": "x"})


def test_only_verified_reasoning_is_kept(server, engine, tmp_path):
    server.script = script
    samples = [question(0, "GOOD open question?"), question(1, "GOOD mcq question?", "mcq"),
               question(2, "WRONG question?"), question(3, "HESITANT question?"),
               question(4, "BADJSON question?"), question(5, "GOOD text-only question?", "mcq", image=False)]
    syn = CoTDistill(engine, cache_path=tmp_path / "c.sqlite", retries=1)
    out = list(apply({"cot_distill": syn}, samples, keep_inputs=False))
    kept = {s.id: s for s in out if isinstance(s, Sample)}
    rejects = {r.id: r for r in out if isinstance(r, Reject)}
    assert set(kept) == {"q0-cot", "q1-cot", "q3-cot", "q5-cot"}
    assert rejects["q2"].reason == "inconsistent" and rejects["q2"].raw.startswith("Inconsistent.")
    assert rejects["q4"].reason.startswith("malformed json") and rejects["q4"].raw == "{reasoning: unquoted}"

    s = kept["q1-cot"]
    assert s.kind == "reasoning" and s.answer == "B" and s.images == samples[1].images
    assert s.messages[0]["content"] == f"{samples[1].messages[0]['content']}\n{THINK_ANSWER_INSTRUCTION}"
    reply = s.messages[1]["content"]
    assert reply.startswith("<think>Step 1") and reply.endswith("</think><answer>B</answer>")
    assert s.meta["verifier"].startswith("Consistent.") and set(s.meta["prompt_hashes"]) == {"mcq", "verify"}
    assert kept["q5-cot"].images == []

    prompts = [user_text(b) for b in server.bodies]
    assert any("multiple-choice" in p and "The correct answer is B. Spleen" in p for p in prompts)
    assert any("The reference answer is: yes" in p for p in prompts)
    # 6 drafts + 1 draft retry (BADJSON) + 5 verifications + 1 verifier retry (HESITANT)
    assert server.count == 6 + 1 + 5 + 1

    before = server.count
    again = list(apply({"cot_distill": CoTDistill(engine, cache_path=tmp_path / "c.sqlite", retries=1)},
                       samples, keep_inputs=False))
    assert server.count == before and [o.to_json() for o in again] == [o.to_json() for o in out]


def test_a_structured_question_is_stored_bare_and_asks_with_the_think_answer_template(server, engine, tmp_path):
    from lingshu.data.sources.base import qa_sample
    from lingshu.prompts import MCQ_INSTRUCTION, render_messages, think_answer_prompt

    server.script = script
    mcq = qa_sample("m1", "medqa", "mcq", "GOOD which organ?", "B", "mcq", options=["Liver", "Spleen"],
                    context="A 30-year-old woman.")
    made = {}
    for instruction, template in ((THINK_ANSWER_INSTRUCTION, "think_answer"), (None, "question")):
        syn = CoTDistill(engine, cache_path=tmp_path / "c.sqlite", instruction=instruction)
        out = made[template] = next(s for s in apply({"cot_distill": syn}, [mcq], keep_inputs=False)
                                    if isinstance(s, Sample))
        assert out.template == template and out.context == mcq.context and out.messages[0] == mcq.messages[0]
        assert out.messages[1]["content"].endswith("</think><answer>B</answer>")
    asked = render_messages(made["think_answer"])
    assert asked[0]["content"] == think_answer_prompt(mcq.messages[0]["content"], "mcq", mcq.options,
                                                      mcq.context).removeprefix("\n")
    assert MCQ_INSTRUCTION not in asked[0]["content"] and THINK_ANSWER_INSTRUCTION in asked[0]["content"]
