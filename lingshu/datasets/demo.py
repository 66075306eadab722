"""The built-in synthetic corpus (`lingshu.data.demo`, needs no files) as a training source and as
a benchmark (its held-out split).

Source rows are image indices, then one row for the text MCQs and one for the planted records, so
a partition renders only its own images.
"""

from __future__ import annotations

from collections.abc import Iterator

from lingshu.data import demo
from lingshu.data.sources.base import SOURCE_KINDS, Row, Source
from lingshu.datasets.base import Facts
from lingshu.schema import BenchmarkItem, Sample

FACTS = (Facts("demo", "Demo", {}),)


class DemoSource(Source):
    default_name = "demo"

    def __init__(self, split: str = "train", seed: int = 0, num_images: int = 800, num_text: int = 200,
                 kind: str = "instruction", planted: bool = True, name: str | None = None,
                 priority: int = 0, limit: int | None = None):
        if split not in demo.SPLIT_OFFSET:
            raise ValueError(f"source {name or 'demo'}: split must be one of {sorted(demo.SPLIT_OFFSET)}")
        if kind not in SOURCE_KINDS:
            raise ValueError(f"source {name or 'demo'}: kind must be one of {SOURCE_KINDS}, got {kind!r}")
        self.name, self.kind, self.split, self.priority, self.limit = name or self.default_name, kind, split, priority, limit
        self.seed, self.num_images, self.num_text = int(seed), num_images, num_text
        self.planted = planted and split == "train"

    def rows(self) -> Iterator[Row]:
        for i in range(self.num_images):
            yield Row("demo", i, ("image", i))
        if self.num_text:
            yield Row("demo", self.num_images, ("text", None))
        if self.planted:
            yield Row("demo", self.num_images + 1, ("planted", None))

    def to_samples(self, row: Row) -> list[Sample]:
        what, i = row.data
        if what == "image":
            lab, img = demo.image_for(i, self.seed, self.split)
            out = demo.image_samples(i, self.seed, self.split, lab, img)
        elif what == "text":
            out = demo.text_mcqs(self.seed, self.split, self.num_text)
        else:
            out = demo.planted_samples(self.seed, self.num_images)
        for s in out:
            s.source = self.name
            s.meta.update(file="demo", row=row.line, original_id=s.id)
        return out


class DemoBenchmark:
    name = "demo"
    facts = FACTS[0]
    has_reports = True  # one report question per image
    max_images = 1

    def __init__(self, seed: int = 0, num_images: int = 60, kinds: list[str] | None = None):
        self.seed = int(seed)
        self.num_images = int(num_images)
        self.kinds = tuple(kinds or ("closed", "open", "mcq", "report"))

    def load(self) -> Iterator[BenchmarkItem]:
        yield from demo.demo_benchmark_items(self.seed, self.num_images, self.kinds)
