"""Acquisition: fetch the published releases the catalogue names into `paths.raw_dir`, resumably
and verifiably (see `lingshu.tasks.acquire` for the command)."""

from lingshu.acquire.catalogue import Entry, FileSpec, entries_for
from lingshu.acquire.fetch import AcquireError, acquire_entry

__all__ = ["AcquireError", "Entry", "FileSpec", "acquire_entry", "entries_for"]
