"""WebDataset shards of Samples: `KEY.json` plus `KEY.<i>.<ext>` per image, one tar per shard.

Each shard is written under a temporary name and renamed when complete, so a killed writer never
leaves a truncated shard behind under a final name. Readers check each member's size before
reading it and skip a sample whose members cannot be read (naming shard and member), up to
`max_bad_samples` distinct samples: beyond that the data is broken, not a stray sample.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tarfile
from pathlib import Path
from typing import Iterable, Iterator

from lingshu.schema import Sample

log = logging.getLogger(__name__)
MAX_MEMBER_BYTES = 256 << 20  # one member (a sample's JSON or one image); a larger one is not read
MAX_BAD_SAMPLES = 100  # distinct unreadable samples a reader skips before it stops with an error
IMAGE_EXTS = ("jpg", "jpeg", "png", "bin", "webp", "gif", "bmp", "tif", "tiff")


class ShardReadError(ValueError):
    """A shard member that cannot be a sample's part; the message names shard, sample and member."""


class ShardGuard:
    """What one reader of shards tolerates: members up to `max_member_bytes` (checked before
    reading), and up to `max_bad_samples` distinct unreadable samples, each skipped and logged once;
    one more is a ShardReadError."""

    def __init__(self, max_bad_samples: int = MAX_BAD_SAMPLES, max_member_bytes: int = MAX_MEMBER_BYTES):
        self.max_bad_samples, self.max_member_bytes = max_bad_samples, max_member_bytes
        self.seen: set[tuple[str, str]] = set()

    def skip(self, shard: str | Path, key: str, error: Exception) -> None:
        if (str(shard), key) in self.seen:  # a stream that cycles meets it again
            return
        self.seen.add((str(shard), key))
        msg = f"{shard}: sample {key!r}: {error}"
        if len(self.seen) > self.max_bad_samples:
            raise ShardReadError(f"{msg}; that is {len(self.seen)} unreadable samples, "
                                 f"over max_bad_samples={self.max_bad_samples}")
        log.warning("skipped unreadable sample (%d so far): %s", len(self.seen), msg)


def image_ext(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return "bin"


def shard_key(sample_id: str) -> str:
    # webdataset splits keys at the first dot of the basename: keep ids dot-free.
    return sample_id.replace(".", "_").replace("/", "_")


def tar_member(name: str, data: bytes) -> bytes:
    """One tar member (header, data, padding) with fixed metadata: equal content, equal bytes."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    pad = -len(data) % tarfile.BLOCKSIZE
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape") + data + b"\0" * pad


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The file's hex digest (sha256 unless another hashlib algorithm is named), read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ShardWriter:
    """Writes samples into `prefix-000000.tar`, ... rolling over by count or bytes.

    The tar stream is written directly (what tarfile writes, without its per-member overhead),
    and each sample's group is one contiguous byte span, so `write_span` can copy a sample from
    another shard without parsing it."""

    def __init__(self, out_dir: str | Path, prefix: str = "shard", max_count: int = 1000,
                 max_bytes: int = 1 << 30, start_index: int = 0):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.prefix, self.max_count, self.max_bytes = prefix, max_count, max_bytes
        self.index = start_index
        self.shards: list[dict] = []  # {"name", "count", "bytes", "sha256"}
        self._f = None
        self._count = self._offset = 0

    def _open(self) -> None:
        self._name = f"{self.prefix}-{self.index:06d}.tar"
        self._tmp = self.out_dir / (self._name + ".tmp")
        self._f = open(self._tmp, "wb")
        self._sha = hashlib.sha256()
        self._count = self._offset = 0

    def write(self, sample: Sample, key: str | None = None) -> tuple[str, int, int]:
        parts = {"json": json.dumps(sample.to_json(), ensure_ascii=False, sort_keys=True).encode()}
        for i, img in enumerate(sample.images):
            parts[f"{i}.{image_ext(img)}"] = img
        return self.write_raw(key or shard_key(sample.id), parts)

    def write_raw(self, key: str, parts: dict[str, bytes]) -> tuple[str, int, int]:
        """Write one group as given (`json` first, then images); returns its (shard, offset, length)."""
        return self.write_span(b"".join(tar_member(f"{key}.{suffix}", data) for suffix, data in parts.items()))

    def write_span(self, span: bytes) -> tuple[str, int, int]:
        """Append one sample's group of tar members, already encoded (a span of another shard)."""
        if self._f is None:
            self._open()
        where = (self._name, self._offset, len(span))
        self._f.write(span)
        self._sha.update(span)
        self._count += 1
        self._offset += len(span)
        if self._count >= self.max_count or self._offset >= self.max_bytes:
            self.finish_shard()
        return where

    def finish_shard(self) -> None:
        if self._f is None:
            return
        # end-of-archive: two zero blocks, then zeros up to a whole record, as tarfile writes it
        end = 2 * tarfile.BLOCKSIZE
        end += -(self._offset + end) % tarfile.RECORDSIZE
        self._f.write(b"\0" * end)
        self._sha.update(b"\0" * end)
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        self._f = None
        os.replace(self._tmp, self.out_dir / self._name)
        self.shards.append({"name": self._name, "count": self._count, "bytes": self._offset + end,
                            "sha256": self._sha.hexdigest()})
        self.index += 1

    def close(self) -> list[dict]:
        self.finish_shard()
        return self.shards

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        elif self._f is not None:  # leave no half-written shard behind
            self._f.close()
            self._tmp.unlink(missing_ok=True)


def check_members(key: str, members: list[tuple[str, tarfile.TarInfo]], max_member_bytes: int) -> None:
    """Raise ShardReadError unless the group looks like a sample: a `json` member, images named
    `<i>.<image ext>`, nothing over `max_member_bytes` (checked before anything is read)."""
    suffixes = [suffix for suffix, _ in members]
    if "json" not in suffixes:
        raise ShardReadError(f"no {key}.json member (members: {', '.join(suffixes)})")
    for suffix, m in members:
        if m.size > max_member_bytes:
            raise ShardReadError(f"member {m.name} is {m.size} bytes, over max_member_bytes {max_member_bytes}; not read")
        index, _, ext = suffix.partition(".")
        if index.isdigit() and ext.lower() not in IMAGE_EXTS:
            raise ShardReadError(f"member {m.name} is not an image ({', '.join(IMAGE_EXTS)})")


def sample_from_parts(key: str, parts: dict[str, bytes], header: dict | None = None) -> Sample:
    """Rebuild a Sample from one webdataset group (`json` plus `<i>.<ext>` entries). `header`: the
    json member already parsed by the caller; then it is not read from `parts` again."""
    try:
        meta = json.loads(parts["json"]) if header is None else header
        imgs = sorted((int(k.split(".")[0]), v) for k, v in parts.items() if k != "json" and k.split(".")[0].isdigit())
        return Sample.from_json(meta, [v for _, v in imgs])
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise ShardReadError(f"{key}.json is not a sample header ({type(e).__name__}: {e})") from None


def iter_tar_groups(path: str | Path) -> Iterator[tuple[str, list[tuple[str, tarfile.TarInfo]], tarfile.TarFile]]:
    """(key, [(suffix, member)], the open tar) per sample, in file order; callers read what they need."""
    group: list[tuple[str, tarfile.TarInfo]] = []
    current = None
    try:
        with tarfile.open(path, "r") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, _, suffix = member.name.partition(".")
                if current is not None and key != current:
                    yield current, group, tar
                    group = []
                current = key
                group.append((suffix, member))
            if current is not None:
                yield current, group, tar
            _check_end(path, tar, current)
    except tarfile.TarError as e:
        raise ShardReadError(f"{path}: not a readable tar after sample {current!r} ({e})") from None


def _check_end(path: str | Path, tar: tarfile.TarFile, last: str | None) -> None:
    """tarfile stops quietly at a bad header after the first: only zero blocks may follow the last
    member, so a corrupt or truncated shard is an error rather than fewer samples."""
    f, zeros = tar.fileobj, 0
    f.seek(tar.offset)
    while chunk := f.read(1 << 20):
        data = chunk.lstrip(b"\0")
        if data:
            at = tar.offset + zeros + len(chunk) - len(data)
            raise ShardReadError(f"{path}: unreadable tar header at byte {at} after sample {last!r}; "
                                 f"the rest of the shard cannot be read")
        zeros += len(chunk)
    if zeros < 2 * tarfile.BLOCKSIZE:
        raise ShardReadError(f"{path}: ends after sample {last!r} without the end-of-archive blocks (truncated)")


def iter_tar_raw(path: str | Path, guard: ShardGuard | None = None) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {suffix: bytes}) groups of one shard, in file order; unreadable groups are skipped."""
    guard = guard if guard is not None else ShardGuard()
    for key, members, tar in iter_tar_groups(path):
        try:
            check_members(key, members, guard.max_member_bytes)
        except ShardReadError as e:
            guard.skip(path, key, e)
            continue
        yield key, {suffix: tar.extractfile(m).read() for suffix, m in members}


def iter_tar(path: str | Path, guard: ShardGuard | None = None) -> Iterator[Sample]:
    """Read one shard sequentially with the standard library (no webdataset needed)."""
    guard = guard if guard is not None else ShardGuard()
    for key, parts in iter_tar_raw(path, guard):
        try:
            sample = sample_from_parts(key, parts)
        except ShardReadError as e:
            guard.skip(path, key, e)
            continue
        yield sample


def list_shards(shard_dir: str | Path) -> list[Path]:
    """The shards a manifest lists (or every finished tar when there is no manifest)."""
    shard_dir = Path(shard_dir)
    manifest = shard_dir / "manifest.json"
    if manifest.exists():
        return [shard_dir / s["name"] for s in json.loads(manifest.read_text())["shards"]]
    return sorted(shard_dir.glob("*.tar"))


def iter_samples(shard_dirs: Iterable[str | Path], guard: ShardGuard | None = None) -> Iterator[Sample]:
    guard = guard if guard is not None else ShardGuard()
    for d in shard_dirs:
        for shard in list_shards(d):
            yield from iter_tar(shard, guard)
