"""The replay engine: responses produced elsewhere, matched by item id."""

import json

import pytest

from lingshu.engines.base import GenerationRequest
from lingshu.engines.replay import ReplayEngine


def req(rid):
    r = GenerationRequest(messages=[{"role": "user", "content": "q"}])
    r.id = rid
    return r


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_matches_by_id_in_any_order(tmp_path):
    f = write(tmp_path / "p.jsonl", [{"id": "b", "response": "B!"}, {"id": "a", "response": "A!", "extra": 1}])
    assert ReplayEngine(str(f)).generate([req("a"), req("b")]) == ["A!", "B!"]


def test_folder_of_prediction_files(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    write(tmp_path / "x" / "predictions.jsonl", [{"id": "1", "response": "one"}])
    write(tmp_path / "y" / "predictions.jsonl", [{"id": "2", "response": None}])
    assert ReplayEngine(str(tmp_path)).generate([req("1"), req("2")]) == ["one", ""]


def test_missing_ids(tmp_path):
    f = write(tmp_path / "p.jsonl", [{"id": "a", "response": "x"}])
    with pytest.raises(KeyError, match="zzz"):
        ReplayEngine(str(f)).generate([req("zzz")])
    assert ReplayEngine(str(f), missing="empty").generate([req("zzz")]) == [""]


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError):
        ReplayEngine(str(tmp_path / "nope.jsonl"))
    f = write(tmp_path / "p.jsonl", [{"response": "no id"}])
    with pytest.raises(ValueError, match="p.jsonl:1"):
        ReplayEngine(str(f))
    with pytest.raises(ValueError, match="item id"):
        ReplayEngine(str(write(tmp_path / "q.jsonl", []))).generate([GenerationRequest(messages=[])])
