"""What every benchmark loader shares: path checks with a one-line fix, file discovery, and
readers for the published formats (JSON, JSONL, CSV, parquet with image structs)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from lingshu.io import read_jsonl
from lingshu.schema import LETTERS, BenchmarkItem
from lingshu.text import normalize_answer


class BenchmarkPathError(FileNotFoundError):
    pass


class Benchmark:
    """Base loader. Subclasses set `name` (the config name) and implement `load()`."""

    name = "benchmark"
    has_reports = False  # generates reports: the report-metric encoder plugins are loaded only then
    example_path = "/data/benchmark"
    max_images = 1
    default_split = "test"
    expected: ClassVar[dict[str, int]] = {}  # the paper's item count per split (the Lingshu paper)

    def __init__(self, path: str | None = None, split: str | None = None, max_images: int | None = None):
        if not path:
            raise BenchmarkPathError(f"benchmark {self.name}: no path set; add benchmark.{self.name}.path={self.example_path}")
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise BenchmarkPathError(f"benchmark {self.name}: path {self.path} does not exist; fetch it with `python "
                                     f"launch.py task=acquire benchmark=[{self.name}]` or set "
                                     f"benchmark.{self.name}.path={self.example_path}")
        self.split = split or self.default_split
        if max_images is not None:
            self.max_images = max_images

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={str(self.path)!r}, split={self.split!r})"

    def load(self) -> Iterator[BenchmarkItem]:
        raise NotImplementedError

    # --- helpers -------------------------------------------------------------------------------
    def find(self, *patterns: str) -> list[Path]:
        """`path` itself if it is a file, else the files under it matching the first pattern that matches."""
        if self.path.is_file():
            return [self.path]
        for pattern in patterns:
            hits = sorted(p for p in self.path.glob(pattern) if p.is_file())
            if hits:
                return hits
        raise BenchmarkPathError(f"benchmark {self.name}: no file matching {' or '.join(patterns)} under {self.path}; "
                                 f"set benchmark.{self.name}.path to the dataset file or folder")

    def root(self) -> Path:
        return self.path if self.path.is_dir() else self.path.parent

    def image(self, rel: str, *dirs: str) -> bytes:
        """Bytes of an image named relative to the dataset root or one of `dirs` under it."""
        roots = [self.root() / d for d in dirs] + [self.root()]
        for r in roots:
            p = r / rel
            if p.is_file():
                return p.read_bytes()
        raise BenchmarkPathError(f"benchmark {self.name}: image {rel} not found under {', '.join(map(str, roots))}")

    def item_id(self, row: int) -> str:
        """The id of a row without a dataset id: `<benchmark>-<split>-<0-based row>`."""
        return f"{self.name}-{self.split}-{row}"


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def read_records(path: Path) -> Iterator[dict]:
    """Rows of a .json list, .jsonl, .csv (with header) or .parquet file."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        yield from read_parquet(path)
    elif suffix == ".jsonl":
        yield from read_jsonl(path)
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            yield from csv.DictReader(fh)
    else:
        data = read_json(path)
        yield from (data if isinstance(data, list) else [data])


def read_parquet(path: Path, batch_rows: int = 256) -> Iterator[dict]:
    """Rows as dicts, streamed in small batches (image columns make whole tables large)."""
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        yield from batch.to_pylist()


def image_value(value: Any) -> bytes | None:
    """Image bytes from a Hugging Face image struct {"bytes", "path"} or raw bytes."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get("bytes")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return None


def letter_of(answer: str, options: list[str]) -> str:
    """The gold letter of an answer given as a letter or as the text of an option."""
    a = (answer or "").strip()
    if len(a) == 1 and a.upper() in LETTERS[: len(options)]:
        return a.upper()
    for same in (lambda x: x.strip().lower(), normalize_answer):  # exact first, then normalised
        hits = [i for i, o in enumerate(options) if same(o) == same(a)]
        if len(hits) == 1:
            return LETTERS[hits[0]]
    raise ValueError(f"answer {answer!r} is neither a letter nor one of the options {options}")


def answer_kind(answer: str, declared: str | None = None) -> str:
    """closed | open: the dataset's own label (CLOSED/OPEN) when it has one, else yes/no answers are closed."""
    if declared:
        return "closed" if declared.strip().upper() == "CLOSED" else "open"
    return "closed" if answer.strip().lower() in ("yes", "no") else "open"
