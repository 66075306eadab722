"""Long captions in five steps (paper section 3):

1. metadata (never age or identity) plus retrieved knowledge -> short caption (text model);
2. regions of interest: `meta["boxes"]`, or the boxes of the mask at `meta["mask_path"]`, drawn on
   a copy of the image (rule, see `roi`);
3. factual annotation from the box-drawn image, the short caption and the knowledge;
4. doctor-preference description following the modality's checklist;
5. summary of 3 and 4 in which the factual annotation wins every conflict.
Steps 3 and 4 are independent, so they go to the engine as one batch.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from PIL import Image

from lingshu.data.demo import encode
from lingshu.schema import Sample
from lingshu.synthesis.base import Output
from lingshu.synthesis.generation import Job, Retry
from lingshu.synthesis.labels import sample_labels
from lingshu.synthesis.prompted import PromptedSynthesizer
from lingshu.synthesis.records import image_key
from lingshu.synthesis.roi import draw_boxes, load_mask, mask_to_boxes

DEFAULT_PROMPTS = {"short": "long_caption_1_short.txt", "factual": "long_caption_3_factual.txt",
                   "preference": "long_caption_4_preference.txt", "summary": "long_caption_5_summary.txt"}


def load_knowledge(path: str | Path) -> dict[str, str]:
    """`{term: fact}` from a JSON object, or from JSON lines `{"term": ..., "fact": ...}`."""
    text = Path(path).read_text(encoding="utf-8")
    if Path(path).suffix == ".jsonl":
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return {row["term"]: row["fact"] for row in rows}
    return dict(json.loads(text))


def parse_text(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise Retry("empty reply")
    return text


class LongCaption(PromptedSynthesizer):
    name = "long_caption"

    def __init__(self, engine, checklists: Mapping[str, Mapping], prompts=None,
                 knowledge: Mapping[str, str] | str | None = None,
                 excluded_metadata: Sequence[str] = ("age", "sex", "gender", "name", "patient_id", "birth_date"),
                 instruction: str = "Describe this medical image in detail.", min_words: int = 20,
                 box_color: str = "red", box_width: int = 3, box_per_component: bool = True, demo_seed: int = 0,
                 **kw):
        super().__init__(engine, prompts or DEFAULT_PROMPTS, **kw)
        self.checklists = {k: dict(v) for k, v in checklists.items()}
        self.knowledge = load_knowledge(knowledge) if isinstance(knowledge, (str, Path)) else dict(knowledge or {})
        self.excluded = {k.lower() for k in excluded_metadata}
        self.instruction, self.min_words = instruction, min_words
        self.box_color, self.box_width, self.demo_seed = box_color, box_width, demo_seed
        self.box_per_component = box_per_component
        self._seen: set[str] = set()

    def accepts(self, sample: Sample) -> bool:
        return bool(sample.images)

    def metadata(self, s: Sample) -> dict[str, str]:
        fields = {**sample_labels(s, self.demo_seed), **{k: str(v) for k, v in (s.meta.get("metadata") or {}).items()}}
        return {k: v for k, v in fields.items() if k.lower() not in self.excluded}

    def retrieve(self, metadata: Mapping[str, str]) -> str:
        text = " ".join(metadata.values()).lower()
        found = [f"{term}: {fact}" for term, fact in self.knowledge.items() if term.lower() in text]
        return "\n".join(found) or "none"

    def checklist(self, modality: str) -> str:
        modality = modality.lower()
        for entry in self.checklists.values():
            if any(k.lower() in modality for k in entry.get("keywords", ())):
                return entry["items"]
        return self.checklists["default"]["items"]

    def roi_image(self, s: Sample) -> bytes:
        boxes = s.meta.get("boxes")
        if not boxes and s.meta.get("mask_path"):
            boxes = mask_to_boxes(load_mask(s.meta["mask_path"]), self.box_per_component)
        if not boxes:
            return s.images[0]
        image = Image.open(io.BytesIO(s.images[0]))
        return encode(draw_boxes(image, [tuple(b) for b in boxes], self.box_color, self.box_width))

    def process(self, batch: list[Sample]) -> Iterator[Output]:
        fresh = []
        for s in batch:
            key = image_key(s)
            if key not in self._seen:  # one caption per image, however many questions it carries
                self._seen.add(key)
                fresh.append(s)
        metadata = [self.metadata(s) for s in fresh]
        knowledge = [self.retrieve(m) for m in metadata]
        shorts = self.generator.run([
            Job(self.request(self.prompt("short", metadata="\n".join(f"{k}: {v}" for k, v in m.items()),
                                         knowledge=k)), self.prompts["short"], parse_text)
            for m, k in zip(metadata, knowledge)])
        live = []
        for s, m, k, short in zip(fresh, metadata, knowledge, shorts):
            if short.ok:
                live.append((s, m, k, short.value))
            else:
                yield self.reject(s, f"short caption: {short.error}", short.raw)
        jobs = []
        for s, m, k, short in live:
            jobs.append(Job(self.request(self.prompt("factual", short_caption=short, knowledge=k), [self.roi_image(s)]),
                            self.prompts["factual"], parse_text))
            modality = m.get("modality", s.modality or "")
            jobs.append(Job(self.request(self.prompt("preference", modality=modality or "unknown",
                                                     checklist=self.checklist(modality)), s.images[:1]),
                            self.prompts["preference"], parse_text))
        views = self.generator.run(jobs)
        ready = []
        for n, (s, m, k, short) in enumerate(live):
            factual, preference = views[2 * n], views[2 * n + 1]
            for step, out in (("factual", factual), ("preference", preference)):
                if not out.ok:
                    yield self.reject(s, f"{step}: {out.error}", out.raw)
                    break
            else:
                ready.append((s, short, factual.value, preference.value))
        summaries = self.generator.run([
            Job(self.request(self.prompt("summary", factual=f, preference=p)), self.prompts["summary"], self._summary)
            for _, _, f, p in ready])
        for (s, short, factual, preference), summary in zip(ready, summaries):
            if not summary.ok:
                yield self.reject(s, f"summary: {summary.error}", summary.raw)
                continue
            yield Sample(id=f"{s.id}-longcap", source=s.source, kind="caption", images=s.images[:1],
                         modality=s.modality,
                         messages=[{"role": "user", "content": f"<image>\n{self.instruction}"},
                                   {"role": "assistant", "content": summary.value}],
                         meta=self.meta(list(self.prompts), [s], short_caption=short, factual=factual,
                                        preference=preference))

    def _summary(self, raw: str) -> str:
        text = parse_text(raw)
        if len(text.split()) < self.min_words:
            raise Retry(f"summary shorter than {self.min_words} words")
        return text
