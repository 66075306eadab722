"""Self-instruct VQA: a strong MLLM writes `{question, answer, wrong_answers}` from an (image, caption) pair.

The model is told to answer "Error: the input description does not match the input image." when
the caption does not fit the picture; such pairs are dropped and counted (`rejected:mismatch`).
"""

from __future__ import annotations

import random
from typing import Iterator

from lingshu.schema import LETTERS, Sample, stable_id
from lingshu.synthesis.base import Output
from lingshu.synthesis.generation import Drop, Job, Retry, parse_json_object
from lingshu.synthesis.prompted import PromptedSynthesizer

MISMATCH = "Error: the input description does not match the input image."


def parse_qa(raw: str) -> tuple[str, str, list[str]]:
    if raw.strip().startswith("Error:"):
        raise Drop("mismatch")
    obj = parse_json_object(raw, ["question", "answer"])
    wrong = obj.get("wrong_answers", obj.get("wrong answers"))
    question, answer = obj["question"], obj["answer"]
    if not (isinstance(question, str) and question.strip() and isinstance(answer, str) and answer.strip()):
        raise Retry("malformed json: empty question or answer")
    if not isinstance(wrong, list):
        raise Retry("malformed json: wrong_answers is not a list")
    seen = {answer.strip().lower()}
    distinct = []
    for w in wrong:
        if isinstance(w, str) and w.strip() and w.strip().lower() not in seen:
            seen.add(w.strip().lower())
            distinct.append(w.strip())
    if not distinct:
        raise Retry("malformed json: no usable wrong answer")
    return question.strip(), answer.strip(), distinct


class SelfInstructVQA(PromptedSynthesizer):
    name = "self_instruct_vqa"

    def __init__(self, engine, prompts=None, num_options: int = 4, open_ended: bool = False, **kw):
        super().__init__(engine, prompts or {"generate": "self_instruct_vqa.txt"}, **kw)
        self.num_options, self.open_ended = num_options, open_ended

    def accepts(self, sample: Sample) -> bool:
        return bool(sample.images) and bool(sample.caption)

    def process(self, batch: list[Sample]) -> Iterator[Output]:
        jobs = [Job(self.request(self.prompt("generate", caption=s.caption), s.images[:1]),
                    self.prompts["generate"], parse_qa) for s in batch]
        for s, out in zip(batch, self.generator.run(jobs)):
            if not out.ok:
                yield self.reject(s, out.error, out.raw)
                continue
            question, answer, wrong = out.value
            rng = random.Random(stable_id(self.seed, s.id, "self_instruct"))
            distractors = rng.sample(wrong, min(self.num_options - 1, len(wrong)))
            pos = rng.randrange(len(distractors) + 1)
            options = distractors[:pos] + [answer] + distractors[pos:]
            meta = self.meta(["generate"], [s], answer_text=answer)
            yield self._sample(s, f"{s.id}-sivqa-mcq", question, LETTERS[pos], meta, structured=True,
                               kind="mcq", answer_type="mcq", options=options)
            if self.open_ended:
                yield self._sample(s, f"{s.id}-sivqa-open", question, answer, meta, kind="vqa", answer_type="open")

    def _sample(self, s: Sample, sid: str, question: str, answer: str, meta: dict, structured: bool = False,
                **fields) -> Sample:
        """A structured question (its prompt rendered at use) or a plain one asked as written."""
        return Sample(id=sid, source=s.source, images=s.images[:1], modality=s.modality, answer=answer,
                      template="question" if structured else None,
                      messages=[{"role": "user", "content": question if structured else f"<image>\n{question}"},
                                {"role": "assistant", "content": answer}], meta=dict(meta), **fields)
