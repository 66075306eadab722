"""The synthesizer interface and `apply`, which runs several synthesizers over one pass of a stream."""

from __future__ import annotations

from collections import Counter
from itertools import islice
from typing import Iterable, Iterator, Mapping

from lingshu.schema import Sample
from lingshu.synthesis.records import Reject

Output = Sample | Reject


class Synthesizer:
    """Maps input Samples to new Samples (and Rejects).

    `process` sees the stream a chunk at a time, so model-based steps can hand an engine whole
    batches; `flush` emits whatever a synthesizer held back until the end of the stream (template
    VQA needs the whole label space before it can draw distractors).
    """

    name = "synthesizer"
    replaces_input = False  # True: an accepted input leaves the stream; only its rewrite (or reject) remains

    def __init__(self, name: str | None = None):
        if name:
            self.name = name
        self.stats: Counter = Counter()

    def accepts(self, sample: Sample) -> bool:
        return True

    def process(self, batch: list[Sample]) -> Iterator[Output]:
        raise NotImplementedError

    def flush(self) -> Iterator[Output]:
        return iter(())

    def reject(self, sample: Sample, reason: str, raw: str | None = None) -> Reject:
        self.stats[f"rejected:{reason.split(':')[0]}"] += 1
        return Reject(id=sample.id, source=sample.source, op=self.name, reason=reason, raw=raw)

    def __call__(self, samples: Iterable[Sample], chunk_size: int = 256) -> Iterator[Output]:
        return apply({self.name: self}, samples, keep_inputs=False, chunk_size=chunk_size)


def _chunks(items: Iterable[Sample], size: int) -> Iterator[list[Sample]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def apply(synthesizers: Mapping[str, Synthesizer], samples: Iterable[Sample], keep_inputs: bool = True,
          chunk_size: int = 256) -> Iterator[Output]:
    """Run every synthesizer over `samples` in one pass; yields the inputs too when `keep_inputs`.

    Each synthesizer gets the chunk's samples it accepts; synthesized samples are not fed to the
    other synthesizers (so the output does not depend on the order of `synthesizers`). An input that
    a `replaces_input` synthesizer accepts is not passed through.
    """
    for name, syn in synthesizers.items():
        syn.name = name
    for chunk in _chunks(samples, chunk_size):
        if keep_inputs:
            replacing = [syn for syn in synthesizers.values() if syn.replaces_input]
            yield from (s for s in chunk if not any(syn.accepts(s) for syn in replacing))
        for syn in synthesizers.values():
            accepted = [s for s in chunk if syn.accepts(s)]
            if accepted:
                for out in syn.process(accepted):
                    if isinstance(out, Sample):
                        syn.stats["synthesized"] += 1
                    yield out
    for syn in synthesizers.values():
        for out in syn.flush():
            if isinstance(out, Sample):
                syn.stats["synthesized"] += 1
            yield out
