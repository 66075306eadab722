"""Packing: several samples per row must train exactly like the same samples run one by one."""

import io
import itertools
import random

import pytest
import torch
from PIL import Image

from lingshu.data.collate import IGNORE, SFTCollator, pack_rows, real_tokens
from lingshu.data.demo import demo_samples
from lingshu.models.positions import mrope_positions
from lingshu.schema import Sample
from lingshu.training.sft import lm_loss


def png(color, size=(84, 56)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def mixed_samples() -> list[Sample]:
    """Image samples of different kinds and lengths, a two-image sample and a text-only one."""
    demo = list(itertools.islice(demo_samples("train", 0, 6, 6, planted=False), 7))
    two = Sample(id="two", source="t", kind="vqa", images=[png("red"), png("blue", (56, 112))], messages=[
        {"role": "user", "content": "<image>\n<image>\nWhich image is red?"},
        {"role": "assistant", "content": "The first one."}])
    text = Sample(id="text", source="t", kind="mcq", messages=[
        {"role": "user", "content": "Which organ produces insulin? A. liver B. pancreas"},
        {"role": "assistant", "content": "B"}])
    return [*demo, two, text]


def test_positions_match_the_models_own_rope_index(tiny):
    model, proc = tiny
    coll = SFTCollator(proc)
    for s in mixed_samples():
        e = coll.encode(s)
        mine = mrope_positions(e["mm_token_type_ids"], e.get("image_grid_thw"), coll.merge)
        if "image_grid_thw" not in e:  # text only: plain 1D positions on every axis
            assert torch.equal(mine, torch.arange(len(e["input_ids"])).expand(3, -1))
            continue
        ref, _ = model.model.get_rope_index(e["input_ids"][None], e["mm_token_type_ids"][None],
                                            image_grid_thw=e["image_grid_thw"])
        assert torch.equal(mine, ref[:, 0]), s.id


def test_pack_rows_respects_capacity_places_every_item_once_and_evens_rows():
    lengths = [70, 10, 55, 30, 45, 100, 5, 60]
    bins = pack_rows(lengths, 100)
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= 100 for b in bins)
    assert len(bins) == 4  # the optimum here: sum 375 needs >= 4 bins
    lengths = [500, 10, 10, 10, 300, 200]  # first fit alone: rows of 510, 510 and 10 (batch width 510)
    assert sorted(sum(lengths[i] for i in b) for b in pack_rows(lengths, 512)) == [230, 300, 500]
    for seed in range(50):  # never over capacity, whatever the lengths
        rng = random.Random(seed)
        lengths = [rng.randint(1, 500) for _ in range(rng.randint(1, 30))]
        bins = pack_rows(lengths, 512)
        assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
        assert all(sum(lengths[i] for i in b) <= 512 for b in bins)


@pytest.mark.parametrize("max_len", [2048, 400])  # one row; several rows with padding
def test_packed_loss_equals_token_weighted_loss_of_samples_run_one_by_one(tiny, max_len):
    model, proc = tiny
    samples = mixed_samples()
    packed = SFTCollator(proc, max_seq_len=max_len, packing=True)(samples)
    assert "attention_mask" not in packed and packed["position_ids"].shape[0] == 4
    if max_len == 400:
        assert packed["input_ids"].shape[0] > 1
    assert real_tokens(packed) == sum(len(SFTCollator(proc).encode(s)["input_ids"]) for s in samples)

    single = SFTCollator(proc, max_seq_len=max_len)
    nll_sum, targets, per_sample = 0.0, 0, []
    with torch.no_grad():
        for s in samples:
            b = single([s])
            b.pop("num_samples")
            labels = b.pop("labels")
            logits = model(**b).logits
            n = int((labels[:, 1:] != IGNORE).sum())
            loss = lm_loss(logits, labels, "token")
            nll_sum, targets = nll_sum + loss.item() * n, targets + n
            per_sample.append(loss.item())
        b = dict(packed)
        b.pop("num_samples")
        labels, segments = b.pop("labels"), b.pop("segments")
        logits = model(**b, use_cache=False).logits  # as SFTModule runs it: a cache disables packed masks
    assert lm_loss(logits, labels, "token").item() == pytest.approx(nll_sum / targets, abs=1e-4)
    assert lm_loss(logits, labels, "sample", segments).item() == pytest.approx(sum(per_sample) / len(per_sample), abs=1e-4)


def test_packing_without_restarting_positions_would_differ(tiny):
    """The equivalence above is not vacuous: one causal sequence over the same row gives another loss."""
    model, proc = tiny
    packed = SFTCollator(proc, max_seq_len=2048, packing=True)(mixed_samples())
    b = dict(packed)
    b.pop("num_samples")
    labels, _ = b.pop("labels"), b.pop("segments")
    with torch.no_grad():
        right = lm_loss(model(**b, use_cache=False).logits, labels).item()
        b.pop("position_ids")
        b["attention_mask"] = torch.ones_like(b["input_ids"])
        wrong = lm_loss(model(**b, use_cache=False).logits, labels).item()
    assert abs(right - wrong) > 1e-3


def test_packing_cuts_padding_on_the_demo_mixture(tiny):
    _, proc = tiny
    samples = list(itertools.islice(demo_samples("train", 0, 40, 40, planted=False), 64))
    for i in range(0, 64, 16):
        chunk = samples[i:i + 16]
        padded = SFTCollator(proc, max_seq_len=4096)(chunk)
        packed = SFTCollator(proc, max_seq_len=4096, packing=True)(chunk)
        pad_frac = 1 - real_tokens(padded) / padded["input_ids"].numel()
        pack_frac = 1 - real_tokens(packed) / packed["input_ids"].numel()
        assert pack_frac <= 0.05 < pad_frac
