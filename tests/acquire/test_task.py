"""task=acquire end to end: the catalogue is consistent with the configs it serves, the command
fetches into paths.raw_dir and prints its table, and then curation and evaluation find the data
with no path override (a tiny SLAKE release in its published layout)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lingshu.acquire.catalogue import load_catalogue
from tests.conftest import CONF, compose

IMG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00"
       b"\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")


def catalogue():
    return load_catalogue(OmegaConf.to_container(OmegaConf.load(Path(CONF) / "task" / "catalogue" / "paper.yaml")))


def test_catalogue_entries_are_valid_and_each_default_path_lies_in_its_entry(tmp_path):
    entries = catalogue()
    served = {key: e for e in entries.values() for key in e.serves}
    assert len(served) == sum(len(e.serves) for e in entries.values()), "a config served by two entries"
    benchmarks = sorted(p.stem for p in (Path(CONF) / "benchmark").glob("*.yaml")
                        if "_target_" in p.read_text())
    missing = [b for b in benchmarks if f"benchmark.{b}" not in served and b != "demo"]
    assert not missing, f"benchmarks without a catalogue entry: {missing}"
    sources = sorted(k.split(".")[1] for k in served if k.startswith("source."))
    benches = sorted(k.split(".")[1] for k in served if k.startswith("benchmark."))
    cfg = compose(["task=acquire", f"source=[{','.join(sources)}]", f"benchmark=[{','.join(benches)}]"], tmp_path)
    for key, e in served.items():
        group, name = key.split(".")
        path = Path(cfg[group][name].path)
        assert path.is_relative_to(tmp_path / "data" / "raw" / e.name), (key, path)
    assert all(e.revision and len(e.revision) == 40 for e in entries.values() if e.hub and e.confirmed)


def slake_release() -> dict[str, bytes]:
    recs = lambda split, n: json.dumps([  # noqa: E731  (the release's fields)
        {"img_id": i, "img_name": f"xmlab{i}/source.jpg", "question": f"Is there a lesion {split} {i}?",
         "answer": "Yes" if i % 2 else "No", "q_lang": "en", "location": "Lung", "modality": "CT",
         "answer_type": "CLOSED", "base_type": "vqa", "content_type": "Abnormality", "triple": ["vhead", "_", "_"],
         "qid": i} for i in range(n)]).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(4):
            z.writestr(f"imgs/xmlab{i}/source.jpg", IMG)
    return {"train.json": recs("train", 4), "validate.json": recs("val", 2), "test.json": recs("test", 3),
            "imgs.zip": buf.getvalue()}


def test_acquire_then_curate_and_eval_find_the_data_without_path_overrides(hub, tmp_path, capsys, monkeypatch):
    from lingshu.data.sources import build_sources
    from lingshu.tasks import acquire
    from lingshu.tasks.evaluate import build_benchmarks

    repo = hub.add("BoKelvin/SLAKE", slake_release(), lfs={"imgs.zip"})
    pin = f"task.catalogue.slake.revision={repo.commit}"
    cfg = compose(["task=acquire", "source=[slake]", "benchmark=[slake,mimic_cxr]", pin], tmp_path)

    with pytest.raises(SystemExit) as exit_:  # mimic_cxr is credentialed: explained, counted as missing
        acquire.run(cfg)
    assert exit_.value.code == 1
    out = capsys.readouterr()
    table = out.out.splitlines()
    assert table[0].split()[:5] == ["entry", "serves", "status", "files", "size"]
    slake_row = next(r for r in table if r.startswith("slake"))
    assert "source.slake benchmark.slake" in slake_row and "downloaded" in slake_row
    mimic_row = next(r for r in table if r.startswith("mimic_cxr"))
    assert "missing" in mimic_row and "credentialed: PhysioNet credentialed access" in mimic_row
    assert "1 of 2 missing: mimic_cxr" in out.err

    raw = tmp_path / "data" / "raw" / "slake"
    assert (raw / "imgs" / "xmlab3" / "source.jpg").is_file() and (raw / "test.json").is_file()

    n = len(hub.requests)
    cfg = compose(["task=acquire", "source=[slake]", "benchmark=[slake]", pin], tmp_path)
    assert acquire.run(cfg)["status"] == {"slake": "present"} and len(hub.requests) == n  # idempotent

    curate_cfg = compose(["task=curate", "source=[slake]"], tmp_path)  # no path= anywhere
    samples = [r for r in build_sources(curate_cfg.source)["slake"] if hasattr(r, "messages")]
    assert len(samples) == 4 and samples[0].images[0] == IMG
    eval_cfg = compose(["task=eval", "benchmark=[slake]"], tmp_path)
    items = list(build_benchmarks(eval_cfg.benchmark)["slake"].load())
    assert [i.id for i in items] == ["0", "1", "2"]

    override = compose(["task=eval", "benchmark=[slake]", f"benchmark.slake.path={tmp_path}/elsewhere"], tmp_path)
    with pytest.raises(Exception, match="elsewhere does not exist"):  # an explicit path still wins
        build_benchmarks(override.benchmark)


def vqa_rad_hub() -> dict[str, bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def table(split, n):
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist([{"image": {"bytes": IMG, "path": None}, "question": f"{split} q{i}?",
                                              "answer": "yes" if i % 2 else "left"} for i in range(n)]), buf)
        return buf.getvalue()
    return {"data/train-00000-of-00001.parquet": table("train", 5), "data/test-00000-of-00001.parquet": table("test", 3)}


def test_one_fetch_of_the_vqa_rad_hub_copy_serves_training_and_evaluation(hub, tmp_path):
    from lingshu.data.sources import build_sources
    from lingshu.tasks import acquire
    from lingshu.tasks.evaluate import build_benchmarks

    repo = hub.add("flaviagiammarino/vqa-rad", vqa_rad_hub(), lfs={"data/train-00000-of-00001.parquet"})
    pin = f"task.catalogue.vqa_rad.revision={repo.commit}"
    cfg = compose(["task=acquire", "source=[vqa_rad]", "benchmark=[vqa_rad]", pin], tmp_path)
    assert acquire.run(cfg)["status"] == {"vqa_rad": "downloaded"}

    curate_cfg = compose(["task=curate", "source=[vqa_rad]"], tmp_path)  # no path= anywhere
    samples = [r for r in build_sources(curate_cfg.source)["vqa_rad"] if hasattr(r, "messages")]
    assert [(s.question, s.answer_type) for s in samples][:2] == [("train q0?", "open"), ("train q1?", "closed")]
    assert len(samples) == 5 and samples[0].images == [IMG]
    items = list(build_benchmarks(compose(["task=eval", "benchmark=[vqa_rad]"], tmp_path).benchmark)["vqa_rad"].load())
    assert [i.question for i in items] == ["test q0?", "test q1?", "test q2?"]


def test_missing_data_says_to_run_acquire(tmp_path):
    from lingshu.data.sources import build_sources
    from lingshu.tasks.evaluate import build_benchmarks

    cfg = compose(["task=curate", "source=[slake]", "benchmark=[medqa]"], tmp_path)
    with pytest.raises(FileNotFoundError, match=r"fetch it with `python launch.py task=acquire source=\[slake\]`"):
        build_sources(cfg.source)
    with pytest.raises(Exception, match=r"fetch it with `python launch.py task=acquire benchmark=\[medqa\]`"):
        build_benchmarks(cfg.benchmark)


def test_a_malformed_catalogue_entry_is_one_line(tmp_path, capsys):
    from lingshu.tasks import acquire

    cfg = compose(["task=acquire", "benchmark=[medqa]", "+task.catalogue.medqa.revison=x"], tmp_path)
    with pytest.raises(SystemExit) as exit_:
        acquire.run(cfg)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "lingshu: error: task.catalogue.medqa.revison: unknown key; an entry accepts access, confirmed, files, homepage, "
        "how, hub, items, licence, note, revision, serves, size, title"]
