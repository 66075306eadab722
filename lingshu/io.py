"""Files every step shares: atomic writes, JSON lines, and the hash that keys a step's results.

A write goes to a temporary file beside the target, is fsynced, then renamed over it: a killed
run leaves the previous file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _jsonable(o: Any) -> Any:
    return o.item() if hasattr(o, "item") else str(o)  # numpy scalars by value, anything else by name


def dumps(obj: Any) -> str:
    """Canonical one-line JSON (sorted keys, UTF-8 kept): equal objects give equal text."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=_jsonable)


def config_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj`: a step reruns when this changes."""
    return hashlib.sha256(dumps(obj).encode()).hexdigest()


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Write `path` through a temporary file (per process, so concurrent writers never share one),
    fsynced and renamed on success, removed on error. Its folder is made if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"}), **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, text: str) -> None:
    with atomic_open(path) as f:
        f.write(text)


def write_json(path: str | Path, obj: Any) -> None:
    """Indented JSON for files people read (metrics, manifests), written atomically."""
    write_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def read_jsonl(path: str | Path, skip_torn: bool = False) -> Iterator[dict]:
    """The records of a JSON-lines file, blank lines skipped. `skip_torn`: a line that does not
    parse (the last one, cut short by a killed run) is skipped instead of raising."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                if not skip_torn:
                    raise


def open_append(path: str | Path) -> IO[str]:
    """`path` opened for appending text, on a fresh line: a line a killed writer left without its
    newline is ended first, so it cannot swallow the next record."""
    f = open(path, "a", encoding="utf-8")
    if os.fstat(f.fileno()).st_size:
        with open(path, "rb") as tail:
            tail.seek(-1, os.SEEK_END)
            if tail.read(1) != b"\n":
                f.write("\n")
    return f
