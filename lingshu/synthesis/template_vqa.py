"""Template VQA from labels: one multiple-choice question per label type, plus a yes/no variant.

Distractors come from the same source's label space. Every random choice is seeded by
(seed, sample id, label type), so the output does not depend on stream order or sharding; the
correct letter is uniform over the options and yes/no answers are 50/50 in expectation.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Iterator, Mapping, Sequence

from lingshu.schema import LETTERS, Sample, stable_id
from lingshu.synthesis.base import Output, Synthesizer
from lingshu.synthesis.generation import fill
from lingshu.synthesis.labels import sample_labels
from lingshu.synthesis.records import image_key, provenance


def mcq_options(correct: str, space: Sequence[str], num_options: int, rng: random.Random) -> tuple[list[str], int]:
    """`num_options` distinct options (fewer if the space is small) with `correct` at a uniform position."""
    others = sorted({v for v in space if v != correct})
    distractors = rng.sample(others, min(num_options - 1, len(others)))
    pos = rng.randrange(len(distractors) + 1)
    return distractors[:pos] + [correct] + distractors[pos:], pos


class TemplateVQA(Synthesizer):
    name = "template_vqa"

    def __init__(self, templates: Mapping[str, str], yesno_templates: Mapping[str, str] | None = None,
                 num_options: int = 4, seed: int = 0, label_space: Mapping[str, Sequence[str]] | None = None,
                 demo_seed: int = 0, name: str | None = None):
        super().__init__(name)
        if not 2 <= num_options <= len(LETTERS):
            raise ValueError(f"num_options must be in 2..{len(LETTERS)}, got {num_options}")
        self.templates = dict(templates)
        self.yesno_templates = dict(yesno_templates or {})
        self.num_options, self.seed, self.demo_seed = num_options, seed, demo_seed
        # A configured label space lets samples stream through; otherwise each source's space is
        # collected from the stream and questions are emitted at the end.
        self.label_space = {k: list(v) for k, v in label_space.items()} if label_space else None
        self._seen: set[str] = set()
        self._held: list[tuple[Sample, dict[str, str]]] = []

    def accepts(self, sample: Sample) -> bool:
        return bool(sample.images)

    def process(self, batch: list[Sample]) -> Iterator[Output]:
        for s in batch:
            key = image_key(s)
            if key in self._seen:  # one image often carries several questions; ask ours once
                continue
            self._seen.add(key)
            labels = {t: v for t, v in sample_labels(s, self.demo_seed).items() if t in self.templates}
            if not labels:
                self.stats["unlabelled"] += 1
            elif self.label_space is None:
                self._held.append((s, labels))
            else:
                yield from self._questions(s, labels, self.label_space)

    def flush(self) -> Iterator[Output]:
        spaces: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for s, labels in self._held:
            for t, v in labels.items():
                spaces[s.source][t].add(v)
        for s, labels in self._held:
            yield from self._questions(s, labels, {t: sorted(v) for t, v in spaces[s.source].items()})
        self._held = []

    def _questions(self, s: Sample, labels: dict[str, str], space: Mapping[str, Sequence[str]]) -> Iterator[Sample]:
        for label_type, correct in labels.items():
            values = space.get(label_type, ())
            if len(set(values) - {correct}) < 1:
                self.stats[f"no_distractors:{label_type}"] += 1
                continue
            rng = random.Random(stable_id(self.seed, s.id, label_type))
            template = self.templates[label_type]
            options, pos = mcq_options(correct, values, self.num_options, rng)
            yield self._sample(s, f"{s.id}-tvqa-{label_type}", template, LETTERS[pos], template, label_type,
                               structured=True, kind="mcq", answer_type="mcq", options=options)
            if label_type in self.yesno_templates:
                yes = rng.random() < 0.5
                asked = correct if yes else rng.choice(sorted(set(values) - {correct}))
                template = self.yesno_templates[label_type]
                yield self._sample(s, f"{s.id}-tvqa-{label_type}-yesno", fill(template, label=asked),
                                   "yes" if yes else "no", template, label_type, kind="vqa", answer_type="closed")

    def _sample(self, s: Sample, sid: str, question: str, answer: str, template: str, label_type: str,
                structured: bool = False, **fields) -> Sample:
        """A structured question (its prompt rendered at use) or a plain one asked as written."""
        return Sample(id=sid, source=s.source, images=[s.images[0]], modality=s.modality, answer=answer,
                      template="question" if structured else None,
                      messages=[{"role": "user", "content": question if structured else f"<image>\n{question}"},
                                {"role": "assistant", "content": answer}],
                      meta=provenance(self.name, "rule", template, [s], label_type=label_type, seed=self.seed),
                      **fields)
