"""Acquisition against a fake hub and plain URLs on 127.0.0.1: verified downloads, a manifest beside
the data, idempotent reruns, quarantine of a corrupted file, gated sets, files missing upstream,
archives unpacked, and a download killed half-way then resumed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from lingshu.acquire import Entry, acquire_entry

ROOT = Path(__file__).resolve().parents[2]


def entry(name: str, **node) -> Entry:
    node.setdefault("title", name)
    node.setdefault("serves", [f"benchmark.{name}"])
    return Entry.from_config(name, node)


def blob(n: int, seed: int = 0) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (n // 32) + b"x" * (n % 32)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def manifest(out: Path, name: str) -> dict:
    return json.loads((out / f"{name}.manifest.json").read_text())


def test_hub_download_is_verified_recorded_and_idempotent(hub, tmp_path):
    files = {"train.json": b'[{"q": 1}]', "data/test-00000-of-00001.parquet": blob(5000),
             "data/train-00000-of-00001.parquet": blob(7000, 1), "README.md": b"card"}
    repo = hub.add("org/set", files, lfs={"data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet"})
    e = entry("set", hub="org/set", revision=repo.commit, files=[{"path": "train.json"}, {"path": "data/*.parquet"}])

    first = acquire_entry(e, tmp_path)
    assert (first.status, first.files, first.why) == ("downloaded", 3, "")
    for name in ("train.json", "data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet"):
        assert (tmp_path / "set" / name).read_bytes() == files[name]
    assert not (tmp_path / "set" / "README.md").exists()  # only the files the readers need
    m = manifest(tmp_path, "set")
    assert m["complete"] and m["origin"] == {"hub": "org/set", "revision": repo.commit, "commit": repo.commit}
    rec = m["files"]["data/test-00000-of-00001.parquet"]
    assert rec == {"size": 5000, "sha256": hashlib.sha256(files["data/test-00000-of-00001.parquet"]).hexdigest(),
                   "checksum": "publisher", "commit": repo.commit, "url": None}
    assert m["files"]["train.json"]["checksum"] == "recorded"  # not LFS: no publisher sha256, recorded at download
    assert not list((tmp_path / ".partial").rglob("*.part"))

    before = len(hub.requests)
    again = acquire_entry(e, tmp_path)
    assert (again.status, again.files) == ("present", 3)
    assert len(hub.requests) == before  # a rerun touches neither the network nor the files

    (tmp_path / "set" / "train.json").write_bytes(b"[]")  # a file changed on disk: only it is fetched again
    third = acquire_entry(e, tmp_path)
    assert third.status == "downloaded"
    assert [p.rsplit("/", 1)[1] for p in hub.downloads(before)] == ["train.json"]
    assert (tmp_path / "set" / "train.json").read_bytes() == files["train.json"]


def test_corrupted_file_is_quarantined_and_nothing_else_is_lost(hub, tmp_path):
    good, bad = blob(3000), blob(4000, 2)
    repo = hub.add("org/c", {"a.parquet": good, "b.parquet": bad}, lfs={"a.parquet", "b.parquet"})
    hub.corrupt.add(f"/datasets/org/c/resolve/{repo.commit}/b.parquet")
    e = entry("c", hub="org/c", revision=repo.commit, files=[{"path": "a.parquet"}, {"path": "b.parquet"}])

    out = acquire_entry(e, tmp_path)
    assert out.status == "missing"
    assert "b.parquet: checksum mismatch (sha256" in out.why and "rerun to fetch it again" in out.why
    assert (tmp_path / "c" / "a.parquet").read_bytes() == good           # the good file is kept
    assert not (tmp_path / "c" / "b.parquet").exists()                   # the bad one never reaches the readers
    quarantined = list((tmp_path / ".quarantine" / "c").iterdir())
    assert len(quarantined) == 1 and quarantined[0].name.startswith("b.parquet.")
    assert quarantined[0].read_bytes() != bad and len(quarantined[0].read_bytes()) == len(bad)
    m = manifest(tmp_path, "c")
    assert not m["complete"] and set(m["files"]) == {"a.parquet"}

    hub.corrupt.clear()  # upstream fixed: the rerun fetches only the missing file
    n = len(hub.requests)
    again = acquire_entry(e, tmp_path)
    assert again.status == "downloaded" and (tmp_path / "c" / "b.parquet").read_bytes() == bad
    assert [p.rsplit("/", 1)[1] for p in hub.downloads(n)] == ["b.parquet"]
    assert manifest(tmp_path, "c")["complete"]


def test_gated_dataset_without_token_says_what_to_do(hub, tmp_path, monkeypatch, capsys):
    repo = hub.add("org/gated", {"x.jsonl": b"{}\n"}, gated=True)
    e = entry("g", hub="org/gated", revision=repo.commit, access="gated", how="accept the terms",
              files=[{"path": "x.jsonl"}])

    out = acquire_entry(e, tmp_path)
    assert out.status == "missing"
    assert out.why == ("org/gated is gated: accept the terms at https://huggingface.co/datasets/org/gated, "
                       "then export HF_TOKEN=<a read token> and rerun")
    assert not (tmp_path / "g" / "x.jsonl").exists()

    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    assert "HF_TOKEN's account has no access yet" in acquire_entry(e, tmp_path).why

    monkeypatch.setenv("HF_TOKEN", hub.TOKEN)
    assert acquire_entry(e, tmp_path).status == "downloaded"
    assert (tmp_path / "g" / "x.jsonl").read_bytes() == b"{}\n"
    written = "".join(p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())
    assert hub.TOKEN not in written and hub.TOKEN not in "".join(capsys.readouterr())


def test_missing_upstream_is_reported_and_the_rest_is_fetched(hub, tmp_path):
    repo = hub.add("org/m", {"train.json": b"[]"})
    e = entry("m", hub="org/m", revision=repo.commit, files=[{"path": "train.json"}, {"path": "test.json"},
                                                             {"path": "data/*.parquet"}])
    out = acquire_entry(e, tmp_path)
    assert out.status == "missing" and (tmp_path / "m" / "train.json").is_file()
    assert f"test.json: missing upstream (not in org/m@{repo.commit[:12]})" in out.why
    assert "data/*.parquet: missing upstream" in out.why

    bad_rev = entry("m2", hub="org/m", revision="0" * 40, files=[{"path": "train.json"}])
    assert "revision 0000000000000000000000000000000000000000 of org/m does not exist upstream" in (
        acquire_entry(bad_rev, tmp_path).why)
    assert "org/nope not found" in acquire_entry(entry("n", hub="org/nope", revision="main",
                                                       files=[{"path": "a"}]), tmp_path).why


def test_url_release_with_publisher_md5_and_a_404(hub, tmp_path):
    hub.urls["ori_pqal.json"] = b'{"1": {"QUESTION": "q"}}'
    md5 = hashlib.md5(hub.urls["ori_pqal.json"]).hexdigest()
    e = entry("pubmedqa", files=[{"path": "ori_pqal.json", "url": f"{hub.url}/files/ori_pqal.json", "md5": md5},
                                 {"path": "test_ground_truth.json", "url": f"{hub.url}/files/gone.json"}])
    out = acquire_entry(e, tmp_path)
    assert out.status == "missing" and "test_ground_truth.json: missing upstream" in out.why and "404" in out.why
    m = manifest(tmp_path, "pubmedqa")["files"]["ori_pqal.json"]
    assert m["checksum"] == "publisher" and m["url"].endswith("/files/ori_pqal.json")
    assert all(r.auth is None for r in hub.requests)  # plain URLs never get a token


def test_archives_are_unpacked_once_into_the_readers_layout(hub, tmp_path):
    z = zip_bytes({"imgs/xmlab1/source.jpg": b"jpg1", "imgs/xmlab2/source.jpg": b"jpg2"})
    flat = zip_bytes({"deep/dir/a.jpg": b"a", "other/b.jpg": b"b"})
    flat2 = zip_bytes({"deep/c.jpg": b"c"})  # a second archive into the same folder adds, never replaces
    repo = hub.add("org/z", {"imgs.zip": z, "images_0.zip": flat, "images_1.zip": flat2},
                   lfs={"imgs.zip", "images_0.zip", "images_1.zip"})
    e = entry("z", hub="org/z", revision=repo.commit, files=[
        {"path": "imgs.zip", "extract": True}, {"path": "images_*.zip", "extract": True, "into": "images", "flatten": True}])
    assert acquire_entry(e, tmp_path).status == "downloaded"
    assert (tmp_path / "z" / "imgs" / "xmlab2" / "source.jpg").read_bytes() == b"jpg2"
    assert sorted(p.name for p in (tmp_path / "z" / "images").iterdir()) == ["a.jpg", "b.jpg", "c.jpg"]
    assert manifest(tmp_path, "z")["extracted"]["imgs.zip"]["members"] == 2
    (tmp_path / "z" / "imgs" / "xmlab1" / "source.jpg").unlink()  # the manifest, not a re-unzip, decides
    assert acquire_entry(e, tmp_path).status == "present"


def test_credentialed_entry_is_explained_and_accepts_files_placed_by_hand(tmp_path):
    e = entry("mimic_cxr", access="credentialed", how="PhysioNet credentialed access; place test.json under <raw_dir>/mimic_cxr/",
              files=[{"path": "test.json"}])
    out = acquire_entry(e, tmp_path)
    assert out.status == "missing"
    assert out.why == f"credentialed: PhysioNet credentialed access; place test.json under {tmp_path}/mimic_cxr/"
    (tmp_path / "mimic_cxr").mkdir()
    (tmp_path / "mimic_cxr" / "test.json").write_text("[]")
    assert acquire_entry(e, tmp_path).status == "present"


KILLED = """
import sys, huggingface_hub.constants as c
c.DOWNLOAD_CHUNK_SIZE = 16384  # a small fixture spans several writes, as a real 10 MB-chunked file does
from lingshu.acquire import Entry, acquire_entry
e = Entry.from_config("big", {"title": "big", "serves": [], "hub": "org/big", "revision": sys.argv[2],
                              "files": [{"path": "big.parquet"}]})
acquire_entry(e, sys.argv[1])
"""


def test_download_killed_halfway_resumes_from_its_part_file(hub, tmp_path):
    data = blob(400_000, 3)
    repo = hub.add("org/big", {"big.parquet": data}, lfs={"big.parquet"})
    hub.stall_after[f"/datasets/org/big/resolve/{repo.commit}/big.parquet"] = 200_000
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(tmp_path), repo.commit], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    part = tmp_path / ".partial" / "big" / "big.parquet.part"
    try:
        deadline = time.monotonic() + 60
        while not (part.is_file() and part.stat().st_size >= 100_000):
            assert proc.poll() is None and time.monotonic() < deadline, "the download never got half-way"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    kept = part.stat().st_size
    assert 100_000 <= kept < len(data)
    assert not (tmp_path / "big" / "big.parquet").exists()  # a partial file is never taken for the file
    assert not (tmp_path / "big.manifest.json").exists() or not manifest(tmp_path, "big")["files"]

    hub.stall_after.clear()
    out = acquire_entry(Entry.from_config("big", {"title": "big", "serves": [], "hub": "org/big",
                                                  "revision": repo.commit, "files": [{"path": "big.parquet"}]}), tmp_path)
    assert out.status == "downloaded"
    assert [r.range for r in hub.requests if r.method == "GET" and "/resolve/" in r.path][-1] == f"bytes={kept}-"
    assert (tmp_path / "big" / "big.parquet").read_bytes() == data and not part.exists()
    assert manifest(tmp_path, "big")["files"]["big.parquet"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_verify_full_rehashes_and_keeps_a_changed_file_aside(hub, tmp_path):
    data = blob(2000, 4)
    repo = hub.add("org/v", {"a.parquet": data}, lfs={"a.parquet"})
    e = entry("v", hub="org/v", revision=repo.commit, files=[{"path": "a.parquet"}])
    assert acquire_entry(e, tmp_path).status == "downloaded"
    (tmp_path / "v" / "a.parquet").write_bytes(b"\0" * len(data))  # same size: only a re-hash can tell
    assert acquire_entry(e, tmp_path).status == "present"
    assert acquire_entry(e, tmp_path, verify="full").status == "downloaded"
    assert (tmp_path / "v" / "a.parquet").read_bytes() == data
    assert (tmp_path / ".quarantine" / "v" / "a.parquet.changed").read_bytes() == b"\0" * len(data)


def test_catalogue_typos_fail_naming_the_key():
    import pytest

    with pytest.raises(ValueError, match=r"task.catalogue.x.revison: unknown key"):
        entry("x", hub="o/x", revison="main", files=[{"path": "a"}])
    with pytest.raises(ValueError, match=r"task.catalogue.x.files\[0\].sha: unknown key"):
        entry("x", hub="o/x", revision="main", files=[{"path": "a", "sha": "1"}])
    with pytest.raises(ValueError, match=r"task.catalogue.x.how: say how"):
        entry("x", access="credentialed", files=[{"path": "a"}])
