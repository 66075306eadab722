"""WebDataset shards of Samples: `KEY.json` plus `KEY.<i>.<ext>` per image, one tar per shard.

Each shard is written under a temporary name and renamed when complete, so a killed writer never
leaves a truncated shard behind under a final name.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Iterable, Iterator

from lingshu.schema import Sample


def image_ext(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return "bin"


def shard_key(sample_id: str) -> str:
    # webdataset splits keys at the first dot of the basename: keep ids dot-free.
    return sample_id.replace(".", "_").replace("/", "_")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # deterministic bytes for a given content
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ShardWriter:
    """Writes samples into `prefix-000000.tar`, ... rolling over by count or bytes."""

    def __init__(self, out_dir: str | Path, prefix: str = "shard", max_count: int = 1000,
                 max_bytes: int = 1 << 30, start_index: int = 0):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.prefix, self.max_count, self.max_bytes = prefix, max_count, max_bytes
        self.index = start_index
        self.shards: list[dict] = []  # {"name", "count", "bytes", "sha256"}
        self._tar: tarfile.TarFile | None = None
        self._count = self._bytes = 0

    def _open(self) -> None:
        self._name = f"{self.prefix}-{self.index:06d}.tar"
        self._tmp = self.out_dir / (self._name + ".tmp")
        self._tar = tarfile.open(self._tmp, "w")
        self._count = self._bytes = 0

    def write(self, sample: Sample, key: str | None = None) -> None:
        parts = {"json": json.dumps(sample.to_json(), ensure_ascii=False, sort_keys=True).encode()}
        for i, img in enumerate(sample.images):
            parts[f"{i}.{image_ext(img)}"] = img
        self.write_raw(key or shard_key(sample.id), parts)

    def write_raw(self, key: str, parts: dict[str, bytes]) -> None:
        """Write one group as given (`json` first, then images): copies a sample between shards
        without decoding it."""
        if self._tar is None:
            self._open()
        size = 0
        for suffix, data in parts.items():
            _add(self._tar, f"{key}.{suffix}", data)
            size += len(data)
        self._count += 1
        self._bytes += size
        if self._count >= self.max_count or self._bytes >= self.max_bytes:
            self.finish_shard()

    def finish_shard(self) -> None:
        if self._tar is None:
            return
        self._tar.close()
        self._tar = None
        final = self.out_dir / self._name
        with open(self._tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self._tmp, final)
        self.shards.append({"name": self._name, "count": self._count, "bytes": final.stat().st_size,
                            "sha256": sha256_file(final)})
        self.index += 1

    def close(self) -> list[dict]:
        self.finish_shard()
        return self.shards

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        elif self._tar is not None:  # leave no half-written shard behind
            self._tar.close()
            self._tmp.unlink(missing_ok=True)


def sample_from_parts(key: str, parts: dict[str, bytes]) -> Sample:
    """Rebuild a Sample from one webdataset group (`json` plus `<i>.<ext>` entries)."""
    meta = json.loads(parts["json"])
    imgs = sorted(((int(k.split(".")[0]), v) for k, v in parts.items() if k != "json" and k.split(".")[0].isdigit()))
    return Sample.from_json(meta, [v for _, v in imgs])


def iter_tar_raw(path: str | Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {suffix: bytes}) groups of one shard, in file order."""
    group: dict[str, bytes] = {}
    current = None
    with tarfile.open(path, "r") as tar:
        for member in tar:
            if not member.isfile():
                continue
            key, _, suffix = member.name.partition(".")
            if current is not None and key != current:
                yield current, group
                group = {}
            current = key
            group[suffix] = tar.extractfile(member).read()
    if current is not None:
        yield current, group


def iter_tar(path: str | Path) -> Iterator[Sample]:
    """Read one shard sequentially with the standard library (no webdataset needed)."""
    for key, parts in iter_tar_raw(path):
        yield sample_from_parts(key, parts)


def list_shards(shard_dir: str | Path) -> list[Path]:
    """The shards a manifest lists (or every finished tar when there is no manifest)."""
    shard_dir = Path(shard_dir)
    manifest = shard_dir / "manifest.json"
    if manifest.exists():
        return [shard_dir / s["name"] for s in json.loads(manifest.read_text())["shards"]]
    return sorted(shard_dir.glob("*.tar"))


def iter_samples(shard_dirs: Iterable[str | Path]) -> Iterator[Sample]:
    for d in shard_dirs:
        for shard in list_shards(d):
            yield from iter_tar(shard)
