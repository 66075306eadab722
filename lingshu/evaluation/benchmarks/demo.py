"""The built-in demo benchmark: the held-out split of `lingshu.data.demo` (needs no files)."""

from __future__ import annotations

from collections.abc import Iterator

from lingshu.data.demo import demo_benchmark_items
from lingshu.schema import BenchmarkItem


class DemoBenchmark:
    name = "demo"
    has_reports = True  # one report question per image
    max_images = 1

    def __init__(self, seed: int = 0, num_images: int = 60, kinds: list[str] | None = None):
        self.seed = int(seed)
        self.num_images = int(num_images)
        self.kinds = tuple(kinds or ("closed", "open", "mcq", "report"))

    def load(self) -> Iterator[BenchmarkItem]:
        yield from demo_benchmark_items(self.seed, self.num_images, self.kinds)
