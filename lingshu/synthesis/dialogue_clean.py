"""Dialogue cleaning: every doctor answer rewritten without identities, explicit diagnoses or
prescriptions, with a suggested kind of doctor and a disclaimer.

A rewrite must begin with "Revised response:" (the prefix is removed); a dialogue with any turn
that never does is rejected. The cleaned dialogue replaces the original in the stream.
"""

from __future__ import annotations

from typing import Iterator

from lingshu.schema import Sample
from lingshu.synthesis.base import Output
from lingshu.synthesis.generation import Job, Retry
from lingshu.synthesis.prompted import PromptedSynthesizer

PREFIX = "Revised response:"
SPEAKERS = {"user": "Patient", "assistant": "Doctor", "system": "System"}


def parse_revision(raw: str) -> str:
    text = raw.strip()
    if not text.startswith(PREFIX):
        raise Retry(f"missing prefix {PREFIX!r}")
    revised = text[len(PREFIX):].strip()
    if not revised:
        raise Retry("empty revision")
    return revised


class DialogueClean(PromptedSynthesizer):
    name = "dialogue_clean"
    replaces_input = True

    def __init__(self, engine, prompts=None, **kw):
        super().__init__(engine, prompts or {"rewrite": "dialogue_clean.txt"}, **kw)

    def accepts(self, sample: Sample) -> bool:
        return sample.kind == "dialogue" and any(m["role"] == "assistant" for m in sample.messages)

    def process(self, batch: list[Sample]) -> Iterator[Output]:
        turns = [(s, i) for s in batch for i, m in enumerate(s.messages) if m["role"] == "assistant"]
        jobs = []
        for s, i in turns:
            context = "\n".join(f"{SPEAKERS[m['role']]}: {m['content']}" for m in s.messages[:i])
            jobs.append(Job(self.request(self.prompt("rewrite", context=context, response=s.messages[i]["content"])),
                            self.prompts["rewrite"], parse_revision))
        results: dict[str, list] = {s.id: [] for s in batch}
        for (s, i), out in zip(turns, self.generator.run(jobs)):
            results[s.id].append((i, out))
        for s in batch:
            failed = next((out for _, out in results[s.id] if not out.ok), None)
            if failed:
                yield self.reject(s, failed.error, failed.raw)
                continue
            messages = [dict(m) for m in s.messages]
            for i, out in results[s.id]:
                messages[i]["content"] = out.value
            yield Sample(id=f"{s.id}-clean", source=s.source, kind="dialogue", images=list(s.images),
                         messages=messages, modality=s.modality, meta=self.meta(["rewrite"], [s]))
