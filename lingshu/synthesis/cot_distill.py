"""Chain-of-thought distillation: reasoning to a known answer, kept only when a verifier agrees.

Step 1 asks a strong model for `{reasoning, answer}` given the question and its answer (MCQ and
open-ended prompt variants); step 2 asks a verifier whether the reasoning is consistent with the
reference, and its reply must start with "Consistent." or "Inconsistent.".
"""

from __future__ import annotations

from typing import Iterator

from lingshu.prompts import render_messages, rendered_question
from lingshu.schema import LETTERS, THINK_ANSWER_INSTRUCTION, Sample
from lingshu.synthesis.base import Output
from lingshu.synthesis.generation import Drop, Job, Retry, fill, parse_json_object
from lingshu.synthesis.prompted import PromptedSynthesizer

DEFAULT_PROMPTS = {"mcq": "cot_mcq.txt", "open": "cot_open.txt", "verify": "cot_verify.txt"}


def parse_reasoning(raw: str) -> dict[str, str]:
    obj = parse_json_object(raw, ["reasoning", "answer"])
    if not isinstance(obj["reasoning"], str) or not obj["reasoning"].strip():
        raise Retry("malformed json: empty reasoning")
    return {"reasoning": obj["reasoning"].strip(), "answer": str(obj["answer"]).strip()}


def parse_verdict(raw: str) -> bool:
    text = raw.strip()
    if text.startswith("Consistent."):
        return True
    if text.startswith("Inconsistent."):
        raise Drop("inconsistent")
    raise Retry("verifier reply starts with neither 'Consistent.' nor 'Inconsistent.'")


def reference_answer(s: Sample) -> str:
    """The answer as the prompt states it: `B. Pancreas` for an MCQ stored as a letter."""
    if s.answer_type == "mcq" and s.options and s.answer in LETTERS[: len(s.options)]:
        return f"{s.answer}. {s.options[LETTERS.index(s.answer)]}"
    return s.answer or ""


class CoTDistill(PromptedSynthesizer):
    name = "cot_distill"

    def __init__(self, engine, prompts=None,
                 response_format: str = "<think>{reasoning}</think><answer>{answer}</answer>",
                 instruction: str | None = THINK_ANSWER_INSTRUCTION, **kw):
        super().__init__(engine, prompts or DEFAULT_PROMPTS, **kw)
        self.response_format = response_format
        # what the sample asks for: the <think>/<answer> layout it shows (a structured question is stored
        # bare and rendered with the "think_answer" template; None: the question's own template)
        self.instruction = instruction
        self.template = {THINK_ANSWER_INSTRUCTION: "think_answer", None: "question"}.get(instruction)

    def accepts(self, sample: Sample) -> bool:
        return sample.kind in ("vqa", "mcq") and bool(sample.answer) and sample.answer_type in ("mcq", "closed", "open")

    def process(self, batch: list[Sample]) -> Iterator[Output]:
        variant = {s.id: "mcq" if s.answer_type == "mcq" else "open" for s in batch}
        asked = {s.id: rendered_question(s) for s in batch}  # what the teacher and the verifier see
        jobs = [Job(self.request(self.prompt(variant[s.id], question=asked[s.id], answer=reference_answer(s)), s.images),
                    self.prompts[variant[s.id]], parse_reasoning) for s in batch]
        drafts = self.generator.run(jobs)
        survivors = []
        for s, d in zip(batch, drafts):
            if d.ok:
                survivors.append((s, d))
            else:
                yield self.reject(s, d.error, d.raw)
        checks = self.generator.run([
            Job(self.request(self.prompt("verify", question=asked[s.id], answer=reference_answer(s),
                                         reasoning=d.value["reasoning"], model_answer=d.value["answer"])),
                self.prompts["verify"], parse_verdict) for s, d in survivors])
        for (s, d), check in zip(survivors, checks):
            if not check.ok:
                yield self.reject(s, check.error, check.raw)
                continue
            response = fill(self.response_format, reasoning=d.value["reasoning"], answer=s.answer)
            common = dict(id=f"{s.id}-cot", source=s.source, kind="reasoning", images=list(s.images), answer=s.answer,
                          options=s.options, answer_type=s.answer_type, modality=s.modality,
                          meta=self.meta([variant[s.id], "verify"], [s], verifier=check.raw.strip()))
            if s.template is not None and self.template:  # stored bare, rendered at use (lingshu.prompts)
                yield Sample(messages=[s.messages[0], {"role": "assistant", "content": response}],
                             template=self.template, context=s.context, **common)
                continue
            # a free-form question, or an instruction no template states: the chat as asked, plus it
            asked = render_messages(s)
            first_reply = next((i for i, m in enumerate(asked) if m["role"] == "assistant"), len(asked))
            user = [dict(m) for m in asked[:first_reply]]
            if self.instruction:
                user[-1]["content"] = f"{user[-1]['content']}\n{self.instruction}"
            yield Sample(messages=user + [{"role": "assistant", "content": response}], **common)
