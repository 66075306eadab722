"""Reading record files (JSON arrays, JSON objects of id -> record, JSON Lines, CSV/TSV, parquet)
one record at a time, so that no record is lost and no record can exhaust memory.

The JSON reader splits the raw bytes at the top-level item boundaries (strings, escapes and
nesting are tracked) and decodes each item on its own with `json.loads`. Every item therefore
becomes exactly one row: a record, or a `SourceError` that says what is wrong and at which byte.
Splitting bytes rather than streaming parser events is what makes a bad item local: invalid
UTF-8 or a syntax error inside one item quarantines that item alone, and an item over
`max_record_bytes` is skipped without being held in memory. (ijson stops at the first invalid
UTF-8 byte and rejects integers beyond 64 bits, so it cannot do either.)
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from lingshu.data.sources.base import MAX_RECORD_BYTES, SourceError

_IN_STRING = re.compile(rb'["\\]')
_STRUCTURE = re.compile(rb'["\[\]{}]')
_SCALAR_END = re.compile(rb"[,:\]}\s]")
_NOT_SPACE = re.compile(rb"[^ \t\r\n]")
INVALID_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, decoded with surrogateescape


def _decode(raw: bytes, offset: int) -> Any:
    """One item's bytes as a Python value, or the SourceError naming the byte that is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return SourceError(f"invalid UTF-8 at byte {offset + e.start}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        return SourceError(f"invalid JSON at byte {offset + len(text[:e.pos].encode('utf-8', 'surrogatepass'))}: {e.msg}")
    except RecursionError:
        return SourceError(f"JSON nested too deeply (item at byte {offset})")


class _Scanner:
    """A read buffer over a binary file with the file offset of its first byte."""

    def __init__(self, f: BinaryIO, chunk: int):
        self.f, self.chunk = f, chunk
        self.buf, self.base = bytearray(), 0

    def more(self) -> bool:
        data = self.f.read(self.chunk)
        self.buf += data
        return bool(data)

    def drop(self, n: int) -> None:
        del self.buf[:n]
        self.base += n

    def skip_space(self, i: int) -> int | None:
        """The index of the next non-space byte at or after i, or None at end of file."""
        while True:
            m = _NOT_SPACE.search(self.buf, i)
            if m:
                return m.start()
            i = len(self.buf)
            if not self.more():
                return None

    def item_end(self, start: int, limit: int) -> tuple[int | None, int]:
        """(end, start) of the JSON value beginning at `start`: end is None when the file ends first.
        When the value outgrows `limit` bytes its head is dropped from the buffer as scanning goes on
        (start becomes -1), so an oversized value costs no memory."""
        i, depth = start, 0
        in_string = self.buf[start] == ord('"')
        scalar = not in_string and self.buf[start] not in b"{["
        if in_string:
            i += 1
        while True:
            if scalar:
                m = _SCALAR_END.search(self.buf, i)
            else:
                m = (_IN_STRING if in_string else _STRUCTURE).search(self.buf, i)
            if m is None or (in_string and self.buf[m.start()] == ord("\\") and m.start() + 1 >= len(self.buf)):
                i = len(self.buf) if m is None else m.start()  # an escape cut by the chunk end: rescan it
                if start >= 0 and i - start > limit:
                    self.drop(start)
                    i, start = i - start, -1
                elif start < 0:
                    self.drop(i)
                    i = 0
                if not self.more():
                    return None, start  # a scalar cut by the end of file may be cut short: unreadable too
                continue
            j = m.start()
            ch = self.buf[j]
            if scalar:
                return j, start
            if in_string:
                if ch == ord("\\"):
                    i = j + 2
                    continue
                in_string, i = False, j + 1
                if depth == 0:
                    return i, start
                continue
            i = j + 1
            if ch == ord('"'):
                in_string = True
            elif ch in b"{[":
                depth += 1
            else:
                depth -= 1
                if depth <= 0:
                    return i, start


def _json_items(f: BinaryIO, max_record_bytes: int, chunk: int) -> Iterator[tuple[int, Any]]:
    """(index, value or SourceError) for each item of a top-level JSON array, or for each member of a
    top-level object (whose record gets its key as `_key`, the PubMedQA layout)."""
    sc = _Scanner(f, chunk)
    i = sc.skip_space(0)
    if i is None:
        return
    if sc.buf[i] not in b"[{":
        yield 0, SourceError(f"not a JSON array, object or JSON Lines file (starts with {bytes(sc.buf[i:i + 20])!r})")
        return
    is_object = sc.buf[i] == ord("{")
    close = ord("}" if is_object else "]")
    i += 1
    index, want_item = 0, True
    while True:
        i = sc.skip_space(i)
        if i is None:
            yield index, SourceError(f"file ends before the top-level {'object' if is_object else 'array'} is closed "
                                     f"(truncated after {index} items, at byte {sc.base + len(sc.buf)})")
            return
        ch = sc.buf[i]
        if ch == close and (want_item is False or index == 0):
            rest = sc.skip_space(i + 1)
            if rest is not None:
                yield index, SourceError(f"unexpected data after the top-level value at byte {sc.base + rest}")
            return
        if ch == ord(",") and not want_item:
            want_item, i = True, i + 1
            continue
        if not want_item or ch in b",]}":
            yield index, SourceError(f"expected {'a member' if want_item else 'a comma'} at byte {sc.base + i}, "
                                     f"found {bytes([ch])!r}; the rest of the file is unreadable")
            return
        sc.drop(i)
        offset, key = sc.base, None
        if is_object:  # "key": value
            end, key_start = sc.item_end(0, max_record_bytes)
            colon = None if end is None or key_start < 0 else sc.skip_space(end)
            if colon is None or sc.buf[colon] != ord(":"):
                yield index, SourceError(f"expected \"key\": value at byte {offset}; the rest of the file is unreadable")
                return
            key = _decode(bytes(sc.buf[:end]), offset)
            value_at = sc.skip_space(colon + 1)
            if value_at is None:
                yield index, SourceError(f"file ends inside member {index} (byte {offset})")
                return
        else:
            value_at = 0
        end, start = sc.item_end(value_at, max_record_bytes)
        if end is None:
            yield index, SourceError(f"file ends inside item {index} (truncated; it starts at byte {offset})")
            return
        if start < 0 or end - start > max_record_bytes:
            value: Any = SourceError(f"record of more than {max_record_bytes} bytes at byte {offset} "
                                     f"(over max_record_bytes; not read)")
        else:
            value = _decode(bytes(sc.buf[start:end]), sc.base + start)
        if isinstance(key, SourceError):
            value = key
        elif is_object and not isinstance(key, str):
            value = SourceError(f"member key at byte {offset} is not a string")
        elif is_object and isinstance(value, dict):
            value = dict(value, _key=key)
        yield index, value
        index, want_item, i = index + 1, False, end


def _json_lines(f: BinaryIO, max_record_bytes: int) -> Iterator[tuple[int, Any]]:
    offset = 0
    for row in range(1 << 62):
        line = f.readline(max_record_bytes + 1)
        if not line:
            return
        start, size = offset, len(line)
        if size > max_record_bytes and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # the rest of the line, read and forgotten
                line = f.readline(1 << 20)
                size += len(line)
            offset += size
            yield row, SourceError(f"line of {size} bytes at byte {start} is over max_record_bytes {max_record_bytes}; not read")
            continue
        offset += size
        if line.strip():
            yield row, _decode(line, start)


def _looks_like_json_lines(path: Path, max_record_bytes: int) -> bool:
    """An object on the first line followed by more data, or a lone one-line object that is a record
    rather than id -> record: JSON Lines under a .json name (MedMCQA)."""
    with open(path, "rb") as f:
        first = f.readline(max_record_bytes + 1)
        rest = f.read(4096).strip()
    try:
        obj = json.loads(first)
    except ValueError:
        return False
    return isinstance(obj, dict) and (bool(rest) or not all(isinstance(v, dict) for v in obj.values()))


def _json_records(path: Path, max_record_bytes: int, chunk: int) -> Iterator[tuple[int, Any]]:
    if path.suffix != ".jsonl" and not _looks_like_json_lines(path, max_record_bytes):
        with open(path, "rb") as f:
            yield from _json_items(f, max_record_bytes, chunk)
        return
    with open(path, "rb") as f:
        yield from _json_lines(f, max_record_bytes)


def _bad_text(row: dict) -> SourceError | None:
    """A SourceError for the first field holding bytes that are not UTF-8 (read as surrogates)."""
    for k, v in row.items():
        for what, text in (("a column name", k), (f"column {k!r}", v)):
            bad = INVALID_UTF8.search(text) if isinstance(text, str) else None
            if bad:
                at = len(text[:bad.start()].encode("utf-8", "surrogateescape"))
                return SourceError(f"invalid UTF-8 in {what} at byte {at} of the field", str(k))
    return None


def read_csv(path: Path, max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[tuple[int, Any]]:
    """(row, {column: value}) per data row; a row with invalid UTF-8 or over the size limit is a
    SourceError in its place, and reading goes on."""
    csv.field_size_limit(max(csv.field_size_limit(), max_record_bytes))
    # -sig: Excel-written CSVs start with a BOM; surrogateescape keeps a bad byte local to its row
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
        reader = csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ",")
        for row in range(1 << 62):
            try:
                rec = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                yield row, SourceError(f"unreadable CSV row (line {reader.line_num}): {e}")
                continue
            yield row, _bad_text(rec) or rec


def read_parquet(path: Path, batch_rows: int = 256) -> Iterator[tuple[int, Any]]:
    """(row, {column: value}), streamed in small batches (image columns make whole tables large)."""
    import pyarrow.parquet as pq

    row = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        for rec in batch.to_pylist():
            yield row, rec
            row += 1


def read_records(path: Path, max_record_bytes: int = MAX_RECORD_BYTES, chunk: int = 1 << 20
                 ) -> Iterator[tuple[int, Any]]:
    """(row, record) from any record file, by suffix: CSV/TSV (with header), parquet, JSON Lines, a
    JSON array, or a JSON object of id -> record (PubMedQA, whose records carry their key as `_key`).
    A record that cannot be read is a SourceError in its place; sources quarantine it, benchmarks
    stop on it (`lingshu.datasets.base.Benchmark.records`)."""
    path = Path(path)
    if path.suffix in (".csv", ".tsv"):
        return read_csv(path, max_record_bytes)
    if path.suffix == ".parquet":
        return read_parquet(path)
    return _json_records(path, max_record_bytes, chunk)
