"""What every source reader shares.

A reader has two halves: `rows()` parses records cheaply (no image bytes), `to_samples(row)` loads
images and builds Samples. The split lets a partition skip other partitions' rows without reading
their images, and lets this base class turn any failure of one row into a `Quarantine` record that
names the file, row and field, so no record is ever lost silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from lingshu import prompts
from lingshu.schema import Sample

SOURCE_KINDS = ("caption", "instruction")
# Size limits, each checked before the bytes are read (all overridable per source):
MAX_RECORD_BYTES = 16 << 20  # one JSON item, JSON line or CSV row
MAX_TEXT_BYTES = 1 << 20  # one turn's text, or a caption file
MAX_FILE_BYTES = 64 << 20  # one image (or mask) file


@dataclass
class Quarantine:
    """A record that could not become a Sample (or whose images do not decode)."""

    id: str
    source: str
    reason: str
    file: str | None = None
    row: int | None = None
    field: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class SourceError(Exception):
    """A malformed or incomplete record; `field` names what is wrong or missing."""

    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.field = field


@dataclass
class Row:
    file: str  # provenance: the file the record came from
    line: int  # its row (0-based) in that file
    data: Any  # the parsed record, or the Exception that stopped parsing it
    original_id: str | None = None


def check_path(name: str, path: Any, what: str = "path") -> Path:
    """Fail at construction, in one line that says how to fix it."""
    hint = f"source.{name}.{what}=/data/{name}"
    if path is None or str(path).strip() in ("", "???"):
        raise ValueError(f"source {name}: `{what}` is not set; point it at your local copy, e.g. {hint}")
    p = Path(str(path)).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"source {name}: {what} {p} does not exist; fetch it with `python launch.py "
                                f"task=acquire source=[{name}]` or point at your copy with {hint}")
    return p


def data_files(name: str, path: Path, suffixes: tuple[str, ...], split: str | None = None) -> list[Path]:
    """`path` itself, or the files with these suffixes under it (only the split's when one is set)."""
    if path.is_file():
        return [path]
    found = sorted(p for p in path.rglob("*") if p.suffix in suffixes and p.is_file())
    if split:
        found = [p for p in found if p.stem == split or p.parent.name == split
                 or p.stem.startswith((f"{split}-", f"{split}_"))]
    if not found:
        raise FileNotFoundError(f"source {name}: no {'/'.join(suffixes)} files{f' for split {split}' if split else ''} "
                                f"under {path}; fix it with source.{name}.path=... (or .split=...)")
    return found


def first_existing(name: str, base: Path, candidates: list[str], what: str) -> Path:
    """The first of a release's known file (or folder) names that exists under `base`."""
    for c in candidates:
        if (base / c).exists():
            return base / c
    raise FileNotFoundError(f"source {name}: none of {candidates} under {base}; "
                            f"fix it with source.{name}.path=<the {what} folder>")


def get(record: Any, field: str, required: bool = True, default: Any = None) -> Any:
    """A field of a record, or a SourceError that names it."""
    if not isinstance(record, dict):
        raise SourceError(f"record is a {type(record).__name__}, not an object")
    value = record.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise SourceError(f"missing field {field!r}", field)
        return default
    return value


def get_text(record: Any, field: str, required: bool = True, default: str = "") -> str:
    """A text field, stripped (a number or boolean is read as its text); an object or list there is a
    SourceError, not its Python repr."""
    value = get(record, field, required, default)
    if not isinstance(value, (str, int, float)):  # bool is an int
        raise SourceError(f"field {field!r} is a {type(value).__name__}, not text", field)
    return str(value).strip()


def with_placeholders(text: str, n_images: int) -> str:
    """Prepend `<image>` lines when a record has images but its text carries no placeholders."""
    try:
        return prompts.with_placeholders(text, n_images)
    except ValueError as e:
        raise SourceError(str(e), "image") from None


def chat(question: str, answer: str, n_images: int = 0) -> list[dict[str, str]]:
    return [{"role": "user", "content": with_placeholders(question, n_images)},
            {"role": "assistant", "content": answer}]


def yes_no_kind(answer: str) -> str:
    """closed | open for a release without labels: yes/no answers are the closed ones."""
    return "closed" if answer.strip().lower() in ("yes", "no") else "open"


def image_value(value: Any) -> bytes | None:
    """Image bytes from a Hugging Face image struct {"bytes", "path"} or raw bytes."""
    if isinstance(value, dict):
        return value.get("bytes")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return None


def qa_sample(id: str, source: str, kind: str, question: str, answer: str, answer_type: str,
              images: list[bytes] | None = None, options: list[str] | None = None, context: str | None = None,
              **fields: Any) -> Sample:
    """A structured question: the bare question (placeholders only where the record placed them)
    and its answer as turns, options, context and answer type as fields. Its user turn is rendered
    at use (`lingshu.prompts.render_messages`), as evaluation asks it."""
    images = list(images or [])
    with_placeholders(question, len(images))  # a record with some but not all placeholders is bad
    return Sample(id=id, source=source, kind=kind, images=images, answer=answer, answer_type=answer_type,
                  options=options, context=context, template="question",
                  messages=[{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
                  **fields)


class Source:
    """Base reader. Subclasses set `default_name` and implement `rows()` and `to_samples()`."""

    default_name = "source"
    max_record_bytes, max_text_bytes, max_file_bytes = MAX_RECORD_BYTES, MAX_TEXT_BYTES, MAX_FILE_BYTES

    def __init__(self, path: Any = None, kind: str = "instruction", split: str | None = None,
                 name: str | None = None, image_root: str | None = None, priority: int = 0,
                 limit: int | None = None, allow_outside_root: bool = False,
                 max_record_bytes: int = MAX_RECORD_BYTES, max_text_bytes: int = MAX_TEXT_BYTES,
                 max_file_bytes: int = MAX_FILE_BYTES):
        self.name = name or self.default_name
        self.path = check_path(self.name, path)
        if kind not in SOURCE_KINDS:
            raise ValueError(f"source {self.name}: kind must be one of {SOURCE_KINDS}, got {kind!r}")
        self.kind, self.split, self.priority, self.limit = kind, split, priority, limit
        self.base_dir = self.path if self.path.is_dir() else self.path.parent
        self.image_root = check_path(self.name, image_root, "image_root") if image_root else self.base_dir
        self.allow_outside_root = allow_outside_root
        self.max_record_bytes, self.max_text_bytes, self.max_file_bytes = max_record_bytes, max_text_bytes, max_file_bytes

    # -- to implement -------------------------------------------------------------------------
    def rows(self) -> Iterable[Row]:
        raise NotImplementedError

    def to_samples(self, row: Row) -> list[Sample]:
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------
    def partition_rows(self, partition: int, num_partitions: int) -> Iterator[tuple[int, Row]]:
        """This partition's (index, row) pairs, index being the row's place in the whole source.
        A reader may override it to skip other partitions' data unread (parquet: row groups)."""
        for index, row in enumerate(self.rows()):
            if index % num_partitions == partition:
                yield index, row

    def records(self, partition: int = 0, num_partitions: int = 1
                ) -> Iterator[tuple[int, int, Sample | Quarantine]]:
        """(row index, sub index, Sample or Quarantine) for the rows of one partition."""
        for index, row in self.partition_rows(partition, num_partitions):
            if self.limit is not None and index >= self.limit:
                return
            try:
                if isinstance(row.data, Exception):
                    raise row.data
                out = self.to_samples(row)
                for sample in out:
                    self.check_text(sample)
            except Exception as e:  # any failure of one record is recorded, never fatal
                field = getattr(e, "field", None) or (str(e.args[0]) if isinstance(e, KeyError) else None)
                reason = str(e) if isinstance(e, SourceError) else f"{type(e).__name__}: {e}"
                yield index, 0, Quarantine(self.sample_id(row), self.name, reason, row.file, row.line, field)
                continue
            for sub, sample in enumerate(out):
                yield index, sub, sample

    def __iter__(self) -> Iterator[Sample | Quarantine]:
        return (rec for _, _, rec in self.records())

    def check_text(self, sample: Sample) -> None:
        """Each turn's text, as rendered, must be encodable (a JSON `\\udcff` escape decodes to a lone
        surrogate, which no shard can hold) and within `max_text_bytes`."""
        for i, turn in enumerate(prompts.render_messages(sample)):
            try:
                n = len(turn["content"].encode("utf-8"))
            except UnicodeEncodeError as e:
                raise SourceError(f"text holds an unpaired surrogate {turn['content'][e.start]!r} at character "
                                  f"{e.start}", f"messages[{i}]") from None
            if n > self.max_text_bytes:
                raise SourceError(f"text of {n} bytes is over max_text_bytes {self.max_text_bytes}", f"messages[{i}]")

    def resolve(self, rel: str | Path, field: str, root: Path | None = None) -> Path:
        """A file a record names, made absolute against `root` (default: image_root). Unless the
        source sets `allow_outside_root`, it must lie inside image_root or the source's folder
        once symlinks are resolved: a record cannot make lingshu read /etc/passwd."""
        p = Path(rel)
        if not p.is_absolute():
            p = (root or self.image_root) / p
        if not self.allow_outside_root:
            real = p.resolve()
            roots = {self.image_root.resolve(), self.base_dir.resolve(), *([root.resolve()] if root else [])}
            if not any(real.is_relative_to(r) for r in roots):
                raise SourceError(f"{field} path {str(rel)!r} resolves to {real}, outside the source's root "
                                  f"{self.image_root} (set allow_outside_root: true to allow it)", field)
        return p

    def read_file(self, p: Path, field: str, limit: int, limit_name: str) -> bytes:
        """A file's bytes, its size checked before reading."""
        try:
            size = p.stat().st_size
            if size > limit:
                raise SourceError(f"{p} is {size} bytes, over {limit_name} {limit}; not read", field)
            return p.read_bytes()
        except OSError:
            raise SourceError(f"missing or unreadable file {p}", field) from None

    def image_bytes(self, rel: str, field: str = "image", root: Path | None = None) -> bytes:
        return self.read_file(self.resolve(rel, field, root), field, self.max_file_bytes, "max_file_bytes")

    def inline_image(self, value: Any, field: str = "image") -> bytes:
        """The bytes of an image a record carries inline (a hub `{"bytes", "path"}` struct, or raw
        bytes), held to max_file_bytes like an image file."""
        data = image_value(value)
        if not data:
            raise SourceError("the image struct holds no bytes", field)
        if len(data) > self.max_file_bytes:
            raise SourceError(f"image of {len(data)} bytes is over max_file_bytes {self.max_file_bytes}", field)
        return data

    def text_file(self, rel: str | Path, field: str) -> str:
        """A text file (a sidecar caption), size-checked and contained like images; bytes that are not
        UTF-8 are a SourceError naming the byte."""
        p = self.resolve(rel, field)
        data = self.read_file(p, field, self.max_text_bytes, "max_text_bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SourceError(f"{p}: invalid UTF-8 at byte {e.start}", field) from None

    def sample_id(self, row: Row) -> str:
        """`<source>-<original id>`, or `<source>-<file stem>-<row>` when the record has none."""
        if row.original_id not in (None, ""):
            return f"{self.name}-{row.original_id}"
        return f"{self.name}-{Path(row.file).stem}-{row.line}"

    def provenance(self, row: Row, **extra: Any) -> dict[str, Any]:
        meta = {"file": row.file, "row": row.line, "original_id": row.original_id}
        if self.split:
            meta["split"] = self.split
        meta.update({k: v for k, v in extra.items() if v is not None})
        return meta

    def sample_kind(self, default: str) -> str:
        """A caption source makes caption samples whatever the format (the paper's scope rules)."""
        return "caption" if self.kind == "caption" else default
