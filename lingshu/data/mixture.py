"""One entry of a stage's data mixture: which curated samples it reads, and how often."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch


@dataclass
class MixtureEntry:
    source: str  # a curated source's name (its folder under paths.curated_dir)
    weight: float = 1.0
    kinds: list[str] | None = None  # Sample.kind values to use (None: all)
    shards: str | None = None  # only shard files matching this pattern, e.g. "synth-*" (synthesized data)
    ids: str | None = None  # only samples whose id matches this pattern, e.g. "*-yesno"

    @property
    def key(self) -> str:
        """Unique per entry: one source may appear several times with different filters and weights."""
        key = self.source if not self.kinds else f"{self.source}[{','.join(sorted(self.kinds))}]"
        return key + (f"/{self.shards}" if self.shards else "") + (f"#{self.ids}" if self.ids else "")

    def reads(self, shard_name: str) -> bool:
        """Whether this entry reads a shard file (by name) of its source."""
        return not self.shards or fnmatch(shard_name, self.shards)

    def accepts(self, header: dict) -> bool:
        """Whether a sample (its JSON header) belongs to this entry."""
        return (not self.kinds or header["kind"] in self.kinds) and (not self.ids or fnmatch(header["id"], self.ids))
