"""perf/peers.py: a missing peer costs one line and no run; installed ones are measured side by
side with lingshu on the same inputs (tiny sizes here)."""

import importlib.util
import json
import sys

import pytest

from tests.conftest import ROOT


@pytest.fixture()
def peers(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "perf"))
    spec = importlib.util.spec_from_file_location("peers_under_test", ROOT / "perf" / "peers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_main(peers, monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["peers.py", *args])
    peers.main()


def test_missing_peers_are_skipped_with_one_line(peers, monkeypatch, capfd, tmp_path):
    real = peers.version
    absent = ("lmms-eval", "spacy", "datatrove", "trl")  # whatever this machine has: the same lines everywhere
    monkeypatch.setattr(peers, "version", lambda p: None if p in absent else real(p))
    out = tmp_path / "peers.json"
    run_main(peers, monkeypatch, "--only", "mcq", "dedup", "--out", str(out), "--cache", str(tmp_path))
    lines = capfd.readouterr().out.splitlines()
    assert [x for x in lines if x.startswith("skip")] == [
        'skip dedup: datatrove, spacy not installed (pip install -e ".[peers]")',
        'skip mcq: lmms-eval not installed (pip install -e ".[peers]")']
    result = json.loads(out.read_text())
    assert result["results"] == {} and result["env"]["torch"]


@pytest.mark.skipif(not all(importlib.util.find_spec(m) for m in ("datatrove", "spacy", "lmms_eval")),
                    reason="peers not installed (pip install -e '.[peers]' and --no-deps lmms-eval)")
def test_dedup_and_mcq_side_by_side(peers, monkeypatch, capfd, tmp_path):
    out = tmp_path / "peers.json"
    run_main(peers, monkeypatch, "--only", "dedup", "mcq", "--repeats", "1", "--dedup-docs", "200", "--mcq", "300",
             "--out", str(out), "--cache", str(tmp_path))
    printed = capfd.readouterr().out
    assert "lingshu/peer" in printed and "datatrove: its defaults" in printed
    res = json.loads(out.read_text())["results"]
    assert set(res["dedup"]) == {"lingshu", "datatrove (spaCy)", "datatrove (split)"}
    assert res["dedup"]["lingshu"][0]["recall"] == 1.0 and res["dedup"]["datatrove (split)"][0]["recall"] > 0.9
    assert set(res["mcq"]) == {"lingshu", "lmms-eval MMMU parser"}
    assert all(r[0]["seconds"] > 0 for m in res.values() for r in m.values())
