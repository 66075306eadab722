"""Stream curated WebDataset shards into training batches, mixed by weight, resumable mid-epoch.

The global sample stream of an epoch is a pure function of (seed, epoch, mixture): every rank and
worker computes it and keeps only its own micro-batches, so (1) all ranks run the same number of
steps, (2) the position is one integer (micro-batches consumed) saved in the checkpoint, and
(3) a resumed run sees exactly the samples an uninterrupted one would. Only JSON headers are read
for samples that belong to other ranks; images are decoded by the owner alone, in its workers.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Iterator

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from lingshu.data.shards import ShardGuard, ShardReadError, check_members, iter_tar_groups, list_shards, sample_from_parts
from lingshu.schema import Sample
from lingshu.data.mixture import MixtureEntry


def resolve_shard_dir(curated_dir: str | Path, source: str) -> Path:
    """`<curated>/<source>`: the curate task's shards and manifest for one source."""
    base = Path(curated_dir) / source
    if base.is_dir() and (any(base.glob("*.tar")) or (base / "manifest.json").exists()):
        return base
    raise FileNotFoundError(f"no curated shards for source {source!r} under {base}: run task=curate with "
                            f"source={source} first, or set paths.curated_dir to where its shards are")


def _raw_records(shard: Path, guard: ShardGuard) -> Iterator[tuple[dict, tuple]]:
    """(header json, where its images lie) per sample of one tar, in file order. Only the JSON is
    read; image bytes are read by `_load` for the samples this rank and worker keep. A sample
    whose members cannot be read is skipped (and counted) here, before any rank relies on it."""
    for key, members, tar in iter_tar_groups(shard):
        try:
            check_members(key, members, guard.max_member_bytes)
            header = json.loads(tar.extractfile(dict(members)["json"]).read())
            if not isinstance(header, dict) or not isinstance(header.get("id"), str) or "kind" not in header:
                raise ShardReadError(f"{key}.json is not a sample header")
        except (ShardReadError, ValueError) as e:
            guard.skip(shard, key, e)
            continue
        yield header, (shard, key, [(suffix, m.offset_data, m.size) for suffix, m in members if suffix != "json"])


def _load(header: dict, where: tuple) -> Sample:
    """The sample from its already-parsed header plus its image members (the JSON is not re-read)."""
    shard, key, images = where
    parts = {}
    with open(shard, "rb") as f:
        for suffix, offset, size in images:
            f.seek(offset)
            parts[suffix] = f.read(size)
    return sample_from_parts(key, parts, header)


class MixtureStream(IterableDataset):
    """Yields lists of `micro_batch_size` Samples (batched in the worker, collated there too)."""

    def __init__(self, shards: dict[str, list[Path]], mixture: list[MixtureEntry], seed: int,
                 samples_per_epoch: int, micro_batch_size: int, shuffle_buffer: int = 1000,
                 guard: ShardGuard | None = None):
        missing = {m.source for m in mixture} - set(shards)
        if missing:
            raise ValueError(f"mixture names sources with no shards: {sorted(missing)}")
        self.shards, self.seed = shards, seed
        self.mixture = {m.key: m for m in mixture}
        self.samples_per_epoch, self.micro_batch_size, self.shuffle_buffer = samples_per_epoch, micro_batch_size, shuffle_buffer
        self.guard = guard or ShardGuard()
        self.epoch = 0
        self.start_batch = 0  # micro-batches this rank already consumed in `epoch` (resume)
        self.rank, self.world_size = 0, 1

    def batches_per_epoch(self) -> int:
        return self.samples_per_epoch // (self.micro_batch_size * self.world_size)

    def _source_stream(self, name: str) -> Iterator[tuple[dict, dict]]:
        """One mixture entry forever: shard order and a bounded shuffle buffer reseeded every pass."""
        entry = self.mixture[name]
        for cycle in range(1 << 30):
            rng = random.Random(f"{self.seed}/{self.epoch}/{name}/{cycle}")
            order = [p for p in self.shards[entry.source] if entry.reads(p.name)]
            rng.shuffle(order)
            buffer: list = []
            found = False
            for shard in order:
                for header, where in _raw_records(shard, self.guard):
                    if not entry.accepts(header):
                        continue
                    found = True
                    buffer.append((header, where))
                    if len(buffer) >= self.shuffle_buffer:
                        yield buffer.pop(rng.randrange(len(buffer)))
            if not found:
                raise ValueError(f"source {entry.source!r} has no samples for mixture entry {entry.key}")
            rng.shuffle(buffer)
            yield from buffer

    def global_stream(self) -> Iterator[tuple[dict, dict]]:
        names = sorted(self.mixture)
        weights = [self.mixture[n].weight for n in names]
        streams = {n: self._source_stream(n) for n in names}
        rng = random.Random(f"{self.seed}/{self.epoch}/mix")
        for _ in range(self.batches_per_epoch() * self.micro_batch_size * self.world_size):
            yield next(streams[rng.choices(names, weights)[0]])

    def __iter__(self) -> Iterator[list[Sample]]:
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info else (0, 1)
        batch: list = []
        for i, (header, where) in enumerate(self.global_stream()):
            b = i // self.micro_batch_size  # global micro-batch index
            if b % self.world_size != self.rank:
                continue
            local = b // self.world_size  # this rank's micro-batch index
            if local < self.start_batch or (local - self.start_batch) % num_workers != worker:
                continue
            batch.append(_load(header, where))
            if len(batch) == self.micro_batch_size:
                yield batch
                batch = []


class EpochPositionDataModule(L.LightningDataModule):
    """Resumable mid-epoch: `train_set` is a pure function of (seed, epoch, rank) that skips its first
    `start_batch` batches, so a position is (epoch, batches this rank finished), saved in the
    Lightning checkpoint and handed back to the stream on resume."""

    train_set: IterableDataset  # with epoch, start_batch, rank, world_size

    def setup(self, stage: str | None = None) -> None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            self.train_set.rank, self.train_set.world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.train_set.epoch:
            self.train_set.epoch, self.train_set.start_batch = epoch, 0

    def state_dict(self) -> dict:
        # Batches this rank finished in the current epoch: the loop's own count, not the loader's,
        # which runs ahead by its prefetch. `processed`, not `completed`: ModelCheckpoint saves in
        # on_train_batch_end, after the batch ran and before the loop counts it completed.
        progress = self.trainer.fit_loop.epoch_loop.batch_progress.current
        return {"epoch": self.trainer.current_epoch, "batches": progress.processed}

    def load_state_dict(self, state: dict) -> None:
        self.train_set.epoch, self.train_set.start_batch = state["epoch"], state["batches"]


class WithSampleIds:
    """The collated batch plus `sample_ids`: the micro-batch's sample ids in stream order (what a
    data trace records; the training step drops them)."""

    def __init__(self, collate):
        self.collate = collate

    def __call__(self, samples: list[Sample]) -> dict:
        batch = self.collate(samples)
        batch["sample_ids"] = [s.id for s in samples]
        return batch


class ShardDataModule(EpochPositionDataModule):
    def __init__(self, curated_dir: str | Path, mixture: list[MixtureEntry], collate, seed: int,
                 micro_batch_size: int, samples_per_epoch: int | None = None, shuffle_buffer: int = 1000,
                 num_workers: int = 0, guard: ShardGuard | None = None):
        super().__init__()
        self.shards = {m.source: list_shards(resolve_shard_dir(curated_dir, m.source)) for m in mixture}
        self.mixture = {m.key: m for m in mixture}
        self.collate, self.num_workers = collate, num_workers
        self.guard = guard or ShardGuard()
        total = samples_per_epoch or self.count_matching()
        # The stream keeps the counting guard: a bad sample met while counting is logged and counted once.
        self.train_set = MixtureStream(self.shards, mixture, seed, total, micro_batch_size, shuffle_buffer, self.guard)

    def count_matching(self) -> int:
        """Samples of the selected kinds across the mixture entries (headers only, each shard read
        once however many entries read it)."""
        readers: dict[Path, list[MixtureEntry]] = {}
        for entry in self.mixture.values():
            for shard in self.shards[entry.source]:
                if entry.reads(shard.name):
                    readers.setdefault(shard, []).append(entry)
        return sum(entry.accepts(h) for shard, entries in readers.items()
                   for h, _ in _raw_records(shard, self.guard) for entry in entries)

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        if self.train_set.batches_per_epoch() == 0:
            raise ValueError(f"an epoch of {self.train_set.samples_per_epoch} samples is less than one micro-batch "
                             f"per rank; lower stage.micro_batch_size or raise stage.data.samples_per_epoch")

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=None, collate_fn=WithSampleIds(self.collate),
                          num_workers=self.num_workers, persistent_workers=False)
