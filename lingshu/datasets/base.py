"""What every dataset module shares: its facts (report column title, published counts, the paper's
numbers), the fields one row parses into, and the benchmark loader base.

A dataset that is both a training source and a benchmark parses a row once, in its module's
`parse`: the source turns the fields into a `Sample`, the benchmark into a `BenchmarkItem`. A row
that does not parse is a `SourceError` naming its field; a source quarantines it (with file and
row), a benchmark stops on it with the same one line (an evaluation that skips items silently is
not comparable with anyone's).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from lingshu.data.sources.base import Row, Source, SourceError, image_value, qa_sample
from lingshu.data.sources.records import read_records
from lingshu.schema import LETTERS, BenchmarkItem, Sample
from lingshu.text import normalize_answer

LINGSHU, QWEN = "Lingshu-7B (paper)", "Qwen2.5-VL-7B (paper)"  # the published rows of the summary tables


@dataclass(frozen=True)
class Facts:
    """One benchmark's facts. `table` places it in the paper's summary tables (multimodal, text,
    reports; None: a table of its own); `paper` maps a published row to its number(s): accuracy %,
    or for reports ROUGE-L, CIDEr (then RaTE, Semb, 1/RadCliQ), from Lingshu paper v4 (arXiv 2506.07044)."""

    name: str  # the config name: conf/benchmark/<name>.yaml
    title: str  # the column title in the summary tables
    expected: dict[str, int]  # published item count per split
    table: str | None = None
    paper: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fields:
    """A QA row as structure: what training and evaluation both need from it."""

    question: str
    answer: str  # the option letter for MCQs
    answer_type: str  # closed | open | mcq
    options: list[str] | None = None
    context: str | None = None
    images: list[Any] = field(default_factory=list)  # as the row names them: a path, or bytes / an image struct
    image_field: str = "image"


def option_text(rec: Any, key: str) -> str:
    """An option's text: the column must be there (null is missing), empty text is kept in place."""
    if not isinstance(rec, dict) or rec.get(key) is None:
        raise SourceError(f"missing field {key!r}", key)
    return str(rec[key]).strip()


def closed_or_open(value: Any, field_name: str = "answer_type") -> str:
    """A dataset's own CLOSED/OPEN label (case and spaces aside); anything else is an error."""
    label = str(value).strip().upper()
    if label not in ("CLOSED", "OPEN"):
        raise SourceError(f"answer_type {value!r} is not CLOSED or OPEN", field_name)
    return label.lower()


def letter_of(answer: str, options: list[str], field_name: str = "answer") -> str:
    """The gold letter of an answer given as a letter or as the text of an option."""
    a = (answer or "").strip()
    if len(a) == 1 and a.upper() in LETTERS[: len(options)]:
        return a.upper()
    for same in (lambda x: x.strip().lower(), normalize_answer):  # exact first, then normalised
        hits = [i for i, o in enumerate(options) if same(o) == same(a)]
        if len(hits) == 1:
            return LETTERS[hits[0]]
    raise SourceError(f"answer {answer!r} is neither a letter nor one of the options {options}", field_name)


def training_sample(source: Source, row: Row, f: Fields, images: list[bytes], kind: str, modality: str | None = None,
                    **meta: Any) -> Sample:
    """A training sample of parsed fields, a structured question rendered at use; the raw question
    also goes to `meta["question"]` (decontamination compares that), with the dataset's own extras."""
    return qa_sample(source.sample_id(row), source.name, kind, f.question, f.answer, f.answer_type, images, f.options,
                     context=f.context, modality=modality, meta=source.provenance(row, question=f.question, **meta))


def qa_item(benchmark: Benchmark, id: str, f: Fields, images: list[bytes], **extra: Any) -> BenchmarkItem:
    """An evaluation item of parsed fields (`extra`: categories, meta)."""
    return BenchmarkItem(id=id, benchmark=benchmark.name, question=f.question, answer=f.answer,
                         answer_type=f.answer_type, options=f.options, context=f.context, images=images, **extra)


class BenchmarkPathError(FileNotFoundError):
    pass


class BenchmarkRowError(ValueError):
    """A benchmark row that does not parse: file, row and field in one line."""


class Benchmark:
    """Base loader. Subclasses set `name` (the config name) and `facts`, and implement `load()`."""

    name = "benchmark"
    facts: ClassVar[Facts | None] = None
    has_reports = False  # generates reports: the report-metric encoder plugins are loaded only then
    example_path = "/data/benchmark"
    max_images = 1
    default_split = "test"

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

    @property
    def expected(self) -> dict[str, int]:
        """The published item count per split (the runner warns when a full load differs)."""
        return self.facts.expected if self.facts else {}

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

    def images(self, fields: Fields, *dirs: str) -> list[bytes]:
        """A parsed row's images: bytes (or an image struct) as they are, a path looked up under `dirs`."""
        return [image_value(v) or self.image(str(v), *dirs) for v in fields.images]

    def item_id(self, row: int) -> str:
        """The id of a row without a dataset id: `<benchmark>-<split>-<0-based row>`."""
        return f"{self.name}-{self.split}-{row}"

    def records(self, path: Path) -> Iterator[tuple[int, Any]]:
        """(row, record) of a record file; a record that cannot be read stops the load, named."""
        for row, rec in read_records(path):
            if isinstance(rec, Exception):
                raise self.row_error(path, row, rec)
            yield row, rec

    def row_error(self, path: Path, row: int, e: Exception) -> BenchmarkRowError:
        where = f"benchmark {self.name}: {path} row {row}"
        return BenchmarkRowError(f"{where}: field {e.field!r}: {e}" if getattr(e, "field", None) else f"{where}: {e}")

    def parsed(self, parse: Any, path: Path, row: int, rec: Any, *args: Any) -> Any:
        """`parse(rec, *args)`, its SourceError turned into one line naming file, row and field."""
        try:
            return parse(rec, *args)
        except SourceError as e:
            raise self.row_error(path, row, e) from None
