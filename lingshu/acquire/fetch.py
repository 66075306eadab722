"""Fetch one catalogue entry into `<raw_dir>/<entry>/`.

Every file is downloaded to `<raw_dir>/.partial/<entry>/<file>.part` (resumed from its length
after a kill), checked against the size and checksum the publisher gives (the hub's LFS sha256,
or the catalogue's), and only then renamed into the entry's folder: readers never see a partial
file. A file that fails its checksum is moved to `<raw_dir>/.quarantine/<entry>/`; the other files
go on. Hugging Face datasets go through `huggingface_hub` (listing, file metadata, auth, HTTP);
the token comes from `HF_TOKEN` in the environment and is only ever sent to the hub's host.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tarfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

from lingshu.acquire.catalogue import Entry, FileSpec
from lingshu.acquire.manifest import Manifest
from lingshu.data.shards import file_digest
from lingshu.io import config_hash

HUB = "https://huggingface.co"


class AcquireError(Exception):
    """The whole entry cannot be fetched (gated, not found, offline); the message says what to do."""


class FileFailure(Exception):
    """One file could not be fetched or verified; the entry's other files go on."""


@dataclass
class Remote:
    path: str                  # where it goes under the entry's folder
    url: str | None            # plain URL releases; hub files are resolved at download time
    size: int | None
    sha256: str | None
    md5: str | None
    publisher_sum: bool        # whether the checksum came from the publisher
    spec: FileSpec
    upstream: str = ""         # its path in the hub repo


@dataclass
class Outcome:
    entry: str
    status: str                # present | downloaded | missing
    dest: Path
    why: str = ""
    files: int = 0
    bytes: int = 0


def network_errors() -> tuple[type[BaseException], ...]:
    """What a dropped connection, a refused one or a timeout raises through huggingface_hub."""
    import httpx2

    return OSError, httpx2.TransportError


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", HUB).rstrip("/")


def token() -> str | bool:
    """HF_TOKEN from the environment, or False: never a token file, never logged."""
    return os.environ.get("HF_TOKEN") or False


def gated_message(entry: Entry) -> str:
    page = f"{HUB}/datasets/{entry.hub}"
    if token():
        return (f"{entry.hub} is gated and HF_TOKEN's account has no access yet: accept the terms at {page}, "
                f"then rerun")
    return f"{entry.hub} is gated: accept the terms at {page}, then export HF_TOKEN=<a read token> and rerun"


def spec_hash(entry: Entry) -> str:
    spec = {"hub": entry.hub, "revision": entry.revision, "files": [asdict(f) for f in entry.files]}
    return config_hash(spec)[:16]


# --- listing ---------------------------------------------------------------------------------

def hub_listing(entry: Entry, timeout: float) -> tuple[str, list[Remote], list[str]]:
    """(commit, files to fetch, patterns that match nothing upstream) for a hub entry."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    try:
        info = HfApi(endpoint=endpoint(), token=token()).dataset_info(
            entry.hub, revision=entry.revision, files_metadata=True, timeout=timeout)
    except GatedRepoError:
        raise AcquireError(gated_message(entry)) from None
    except RevisionNotFoundError:
        raise AcquireError(f"revision {entry.revision} of {entry.hub} does not exist upstream; fix "
                           f"task.catalogue.{entry.name}.revision") from None
    except RepositoryNotFoundError:
        raise AcquireError(f"{entry.hub} not found on {endpoint()} (a private repo needs HF_TOKEN)") from None
    except HfHubHTTPError as e:
        raise AcquireError(f"{entry.hub}: the hub answered {_status(e)}") from None
    except network_errors() as e:  # connection refused, DNS, timeout
        raise AcquireError(f"cannot reach {endpoint()} ({type(e).__name__}); check the network or "
                           f"HF_ENDPOINT") from None
    siblings = {s.rfilename: s for s in info.siblings or []}
    out, missing = [], []
    for spec in entry.files:
        magic = any(c in spec.path for c in "*?[")
        names = sorted(n for n in siblings if fnmatch.fnmatchcase(n, spec.path)) if magic else (
            [spec.path] if spec.path in siblings else [])
        if not names:
            missing.append(spec.path)
        for n in names:
            s = siblings[n]
            lfs_sha = s.lfs.sha256 if s.lfs is not None else None
            sha = spec.sha256 or lfs_sha
            out.append(Remote(spec.save_as or n, None, s.size if s.size is not None else spec.size, sha, spec.md5,
                              bool(sha or spec.md5), spec, n))
    return str(info.sha), out, missing


def url_listing(entry: Entry) -> list[Remote]:
    return [Remote(f.save_as or f.path, f.url, f.size, f.sha256, f.md5, bool(f.sha256 or f.md5), f)
            for f in entry.files]


# --- one file --------------------------------------------------------------------------------

def _status(e: Exception) -> str:
    response = getattr(e, "response", None)
    code = getattr(response, "status_code", None)
    return f"HTTP {code}" if code else type(e).__name__


def _hub_source(entry: Entry, commit: str, remote: Remote, timeout: float) -> tuple[str, dict]:
    """(download URL, headers) of a hub file; the token goes only to the hub's own host."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, HfHubHTTPError
    from huggingface_hub.utils import build_hf_headers

    url = hf_hub_url(entry.hub, remote.upstream, repo_type="dataset", revision=commit, endpoint=endpoint())
    try:
        meta = get_hf_file_metadata(url, token=token(), timeout=timeout, endpoint=endpoint())
    except GatedRepoError:
        raise AcquireError(gated_message(entry)) from None
    except EntryNotFoundError:
        raise FileFailure(f"{remote.upstream}: missing upstream ({entry.hub}@{commit[:12]} has no such file)") from None
    except HfHubHTTPError as e:
        raise FileFailure(f"{remote.path}: the hub answered {_status(e)}") from None
    except network_errors() as e:
        raise FileFailure(f"{remote.path}: cannot reach {endpoint()} ({type(e).__name__}); rerun to resume") from None
    location = meta.location or url
    same_host = urlparse(location).netloc == urlparse(endpoint()).netloc
    return location, build_hf_headers(token=token() if same_host else False)


def _download(url: str, part: Path, headers: dict, size: int | None, label: str, bar: str) -> None:
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get

    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    if size is not None and have > size:  # longer than the release: not a prefix of it
        part.unlink()
        have = 0
    try:
        with open(part, "r+b" if have else "wb") as f:
            f.seek(have)
            http_get(url, f, resume_size=have, headers=headers, expected_size=size, displayed_filename=bar)
    except HfHubHTTPError as e:
        if _status(e) == "HTTP 404":
            part.unlink(missing_ok=True)
            raise FileFailure(f"{label}: missing upstream ({url} answered 404)") from None
        raise FileFailure(f"{label}: {url} answered {_status(e)}; rerun to resume") from None
    except network_errors() as e:  # network failures and the size consistency check; the .part is kept
        kept = part.stat().st_size if part.is_file() else 0
        raise FileFailure(f"{label}: download interrupted ({type(e).__name__}); {kept} bytes kept in "
                          f"{part.name}, rerun to resume") from None


def _verify(part: Path, remote: Remote, quarantine: Path) -> str:
    """The file's sha256 when it matches what the publisher states; else it is quarantined."""
    size = part.stat().st_size
    sha = file_digest(part)
    wrong = None
    if remote.size is not None and size != remote.size:
        wrong = f"size {size} bytes, expected {remote.size}"
    elif remote.sha256 and sha != remote.sha256.lower():
        wrong = f"sha256 {sha[:16]}..., expected {remote.sha256[:16]}..."
    elif remote.md5 and (md5 := file_digest(part, "md5")) != remote.md5.lower():  # a second read, md5s are rare
        wrong = f"md5 {md5}, expected {remote.md5}"
    if wrong:
        target = quarantine / f"{remote.path}.{sha[:12]}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        raise FileFailure(f"{remote.path}: checksum mismatch ({wrong}); moved to {target}; rerun to fetch it again")
    return sha


# --- archives --------------------------------------------------------------------------------

def _members_ok(names: list[str]) -> None:
    for n in names:
        p = Path(n)
        if p.is_absolute() or ".." in p.parts:
            raise FileFailure(f"archive member {n!r} would land outside the dataset folder")


def _flatten(work: Path) -> None:
    files = [p for p in work.rglob("*") if p.is_file()]
    for p in files:
        os.replace(p, work / p.name)
    for d in sorted((p for p in work.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        d.rmdir()


def extract(archive: Path, dest: Path, work: Path, flatten: bool = False) -> int:
    """Unpack into `work`, then move each file into `dest` (replacing a half-moved one): a kill
    mid-way leaves the archive marked unextracted and the next run redoes it."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            _members_ok(z.namelist())
            z.extractall(work)
            count = sum(1 for i in z.infolist() if not i.is_dir())
    else:
        with tarfile.open(archive) as t:
            _members_ok(t.getnames())
            t.extractall(work, filter="data")
            count = sum(1 for m in t.getmembers() if m.isfile())
    if flatten:
        _flatten(work)
    shutil.rmtree(work / "__MACOSX", ignore_errors=True)
    for f in sorted(p for p in work.rglob("*") if p.is_file()):  # merged file by file: several archives
        target = dest / f.relative_to(work)                       # may fill one folder (images_0..19.zip)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, target)
    shutil.rmtree(work, ignore_errors=True)
    return count


# --- one entry -------------------------------------------------------------------------------

def placed_by_hand(entry: Entry, dest: Path) -> bool:
    return bool(entry.files) and all(any(dest.glob(f.path)) for f in entry.files)


def acquire_entry(entry: Entry, out_dir: str | Path, verify: str = "size", timeout: float = 30.0) -> Outcome:
    """Bring `entry` into `<out_dir>/<entry>/`; never raises for a problem of the data, only reports it."""
    out_dir = Path(out_dir)
    dest = out_dir / entry.name
    if not entry.fetchable:
        if placed_by_hand(entry, dest):
            return Outcome(entry.name, "present", dest, "placed by hand")
        return Outcome(entry.name, "missing", dest, f"{entry.access}: {entry.how.replace('<raw_dir>', str(out_dir))}")
    manifest = Manifest.load(out_dir / f"{entry.name}.manifest.json", entry.name)
    spec = spec_hash(entry)
    if (verify == "size" and manifest.complete and manifest.spec == spec
            and all(manifest.has(rel, dest) for rel in manifest.files)):
        return Outcome(entry.name, "present", dest, files=len(manifest.files),
                       bytes=sum(r["size"] for r in manifest.files.values()))
    try:
        return _fetch(entry, dest, out_dir, manifest, spec, verify, timeout)
    except AcquireError as e:
        return Outcome(entry.name, "missing", dest, str(e))


def _fetch(entry: Entry, dest: Path, out_dir: Path, manifest: Manifest, spec: str, verify: str,
           timeout: float) -> Outcome:
    partial, quarantine = out_dir / ".partial" / entry.name, out_dir / ".quarantine" / entry.name
    if entry.hub:
        commit, remotes, missing = hub_listing(entry, timeout)
        origin = {"hub": entry.hub, "revision": entry.revision, "commit": commit}
    else:
        commit, remotes, missing = None, url_listing(entry), []
        origin = {"urls": True}
    failures = [f"{p}: missing upstream (not in {entry.hub}@{commit[:12]})" for p in missing]
    manifest.origin, manifest.spec, manifest.complete = origin, spec, False
    fetched = 0
    for remote in remotes:
        rec = manifest.files.get(remote.path)
        if rec and manifest.has(remote.path, dest) and _still_current(rec, remote, commit, dest, verify):
            continue
        try:
            if remote.url:
                url, headers = remote.url, {}
            else:
                url, headers = _hub_source(entry, commit, remote, timeout)
            part = partial / f"{remote.path}.part"
            _download(url, part, headers, remote.size, remote.path, f"{entry.name}/{remote.path}")
            sha = _verify(part, remote, quarantine)
        except FileFailure as e:
            failures.append(str(e))
            continue
        target = dest / remote.path
        target.parent.mkdir(parents=True, exist_ok=True)
        size = part.stat().st_size
        os.replace(part, target)
        manifest.files[remote.path] = {"size": size, "sha256": sha, "checksum": "publisher" if remote.publisher_sum
                                       else "recorded", "commit": commit, "url": remote.url}
        manifest.extracted.pop(remote.path, None)
        manifest.save()
        fetched += 1
    for remote in remotes:
        rec = manifest.files.get(remote.path)
        done = manifest.extracted.get(remote.path, {}).get("sha256")
        if not remote.spec.extract or rec is None or done == rec["sha256"]:
            continue
        try:
            count = extract(dest / remote.path, dest / remote.spec.into, partial / f"{remote.path}.extract",
                            remote.spec.flatten)
        except (FileFailure, zipfile.BadZipFile, tarfile.TarError) as e:
            failures.append(f"{remote.path}: cannot unpack ({e})")
            continue
        manifest.extracted[remote.path] = {"sha256": rec["sha256"], "members": count}
        manifest.save()
    manifest.complete = not failures
    manifest.save()
    _prune(partial)
    wanted = {r.path for r in remotes}
    have = {k: v for k, v in manifest.files.items() if k in wanted}
    status = "missing" if failures else ("downloaded" if fetched else "present")
    return Outcome(entry.name, status, dest, "; ".join(failures), len(have), sum(v["size"] for v in have.values()))


def _prune(folder: Path) -> None:
    """Remove the empty folders a finished entry leaves under .partial/ (kept .part files stay)."""
    for d in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(d.iterdir()):
            d.rmdir()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _still_current(rec: dict, remote: Remote, commit: str | None, dest: Path, verify: str) -> bool:
    """Whether a file the manifest recorded still is the release's: same publisher checksum, or same
    commit when the publisher gives none; with verify=full its bytes are hashed again."""
    if remote.sha256 and rec["sha256"] != remote.sha256.lower():
        return False
    if not remote.sha256 and commit is not None and rec.get("commit") != commit:
        return False
    if verify == "full" and file_digest(dest / remote.path) != rec["sha256"]:  # changed on disk: kept aside
        target = dest.parent / ".quarantine" / dest.name / f"{remote.path}.changed"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(dest / remote.path, target)
        return False
    return True
