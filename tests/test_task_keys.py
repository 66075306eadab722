"""What decides whether finished work is reused: the identity of starting weights and of an
evaluation folder's inputs."""

import json

import pytest

from lingshu.tasks.common import fresh_dir, mark_done, weights_identity


def test_a_user_folder_is_known_by_its_bytes(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights v1")
    first = weights_identity(tmp_path)
    assert first.startswith("files:") and weights_identity(tmp_path) == first
    (tmp_path / "model.safetensors").write_bytes(b"weights v2")
    assert weights_identity(tmp_path) != first


def test_only_rank_zero_reads_a_user_folders_bytes(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from lingshu.tasks import common

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights v1")
    cfg = OmegaConf.create({"paths": {"run_dir": str(tmp_path / "run")}})
    monkeypatch.setenv("RANK", "0")
    on_zero = weights_identity(model, cfg)
    assert on_zero == weights_identity(model)  # the same identity as without ranks
    common._hash_files.cache_clear()
    monkeypatch.setattr(common, "_hash_files", lambda stats: pytest.fail("rank 1 read the weights"))
    monkeypatch.setenv("RANK", "1")
    assert weights_identity(model, cfg) == on_zero
    # changed files are looked up under another name: rank 0's result for the old bytes is never taken
    (model / "model.safetensors").write_bytes(b"weights v2, longer")
    asked = []
    monkeypatch.setattr(common, "on_rank_zero", lambda cfg, name, fn: asked.append(name) or "")
    weights_identity(model, cfg)
    left = [p.stem for p in (tmp_path / "run" / ".ranks").glob("weights-*.json")]
    assert len(left) == 1 and asked and asked[0] != left[0]


def test_a_stage_output_is_known_by_its_producers_key(tmp_path):
    hf = tmp_path / "train" / "s1" / "hf"
    hf.mkdir(parents=True)
    (hf / "model.safetensors").write_bytes(b"w")
    mark_done(hf.parent, "k1", {"hf": str(hf)})
    assert weights_identity(hf) == "step:k1"
    mark_done(hf.parent, "k2", {"hf": str(hf)})  # retrained: same path, other weights
    assert weights_identity(hf) == "step:k2"
    assert weights_identity(None) == "random-init"


def test_a_folder_made_under_another_key_is_cleared_and_says_why(tmp_path):
    out = tmp_path / "eval"
    fresh_dir(out, "a", "predictions")
    (out / "predictions.jsonl").write_text(json.dumps({"id": 1}) + "\n")
    fresh_dir(out, "a", "predictions")  # same key: resumed as is
    assert (out / "predictions.jsonl").exists() and not (out / "CLEARED.txt").exists()
    fresh_dir(out, "b", "predictions")
    assert not (out / "predictions.jsonl").exists()
    assert "key a" in (out / "CLEARED.txt").read_text() and (out / "KEY").read_text() == "b"
