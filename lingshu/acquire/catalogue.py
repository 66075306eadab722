"""The catalogue: one entry per published release (conf/task/catalogue/paper.yaml), and which selected
sources and benchmarks each serves. An entry says where the release lives (a Hugging Face dataset at
a pinned revision, or plain URLs), which files our readers need, and the access terms; it is data,
read here into typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

ACCESS = ("open", "gated", "credentialed", "manual")


@dataclass(frozen=True)
class FileSpec:
    """One file of a release: a path in the hub repo (glob patterns allowed) or a URL saved as `path`."""

    path: str
    url: str | None = None
    size: int | None = None      # bytes, when the publisher states it
    sha256: str | None = None    # the publisher's checksum, when it gives one
    md5: str | None = None
    save_as: str | None = None   # where it goes under the entry's folder when our reader wants another layout
    extract: bool = False        # a .zip / .tar(.gz) unpacked after verification ...
    into: str = ""               # ... into this subfolder of the entry's folder ...
    flatten: bool = False        # ... dropping the archive's folders (the publisher's `unzip -j`)


@dataclass(frozen=True)
class Entry:
    name: str
    title: str
    serves: tuple[str, ...]          # config keys it provides data for: source.<name>, benchmark.<name>
    access: str = "open"
    hub: str | None = None           # Hugging Face dataset id
    revision: str | None = None      # pinned commit (or a branch when no commit could be confirmed)
    files: tuple[FileSpec, ...] = ()
    how: str | None = None           # gated / credentialed / manual: what the user must do
    homepage: str | None = None
    licence: str | None = None
    items: Mapping[str, int] = field(default_factory=dict)   # the paper's item counts per split
    size: str | None = None
    confirmed: bool = False          # checked against the publisher's page
    note: str | None = None

    @classmethod
    def from_config(cls, name: str, node: Mapping[str, Any]) -> "Entry":
        node = dict(node)
        where = f"task.catalogue.{name}"
        _known(cls, node, where)
        for i, f in enumerate(node.get("files") or []):
            _known(FileSpec, f, f"{where}.files[{i}]")
        files = tuple(FileSpec(**f) for f in node.pop("files", []) or [])
        entry = cls(name=name, files=files, serves=tuple(node.pop("serves", []) or []),
                    items=dict(node.pop("items", {}) or {}), **node)
        entry.check()
        return entry

    def check(self) -> None:
        where = f"task.catalogue.{self.name}"
        if self.access not in ACCESS:
            raise ValueError(f"{where}.access: {self.access!r} is not one of {', '.join(ACCESS)}")
        if self.access in ("credentialed", "manual"):
            if not self.how:
                raise ValueError(f"{where}.how: say how to get a {self.access} release")
            return
        if not self.files:
            raise ValueError(f"{where}.files: list the files the readers need")
        if self.hub is None and any(f.url is None for f in self.files):
            raise ValueError(f"{where}: a release without `hub` needs a `url` for every file")
        if any(f.save_as and any(c in f.path for c in "*?[") for f in self.files):
            raise ValueError(f"{where}.files: save_as needs an exact file name, not a pattern")
        if self.hub is not None and not self.revision:
            raise ValueError(f"{where}.revision: pin a revision of {self.hub}")

    @property
    def fetchable(self) -> bool:
        return self.access in ("open", "gated")


def _known(cls, node: Any, where: str) -> None:
    if not isinstance(node, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {node!r}")
    fields = set(cls.__dataclass_fields__) - {"name"}
    unknown = sorted(set(node) - fields)
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown key; an entry accepts {', '.join(sorted(fields))}")


def load_catalogue(node: Mapping[str, Any]) -> dict[str, Entry]:
    return {str(name): Entry.from_config(str(name), sub) for name, sub in (node or {}).items()}


def entries_for(catalogue: Mapping[str, Entry], selected: list[str]) -> tuple[list[Entry], list[str]]:
    """The entries serving the selected config keys (`source.slake`, ...) in order, each once, and
    the keys no entry serves."""
    out: list[Entry] = []
    unserved = []
    for key in selected:
        hits = [e for e in catalogue.values() if key in e.serves]
        if not hits:
            unserved.append(key)
        for e in hits:
            if e not in out:
                out.append(e)
    return out, unserved
