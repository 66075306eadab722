"""The streaming mixture: weights hold, ranks split the stream without gaps or duplicates, and a
resumed stream continues exactly where an uninterrupted one would be."""

import itertools
from collections import Counter

import pytest

from lingshu.data.datamodule import MixtureStream
from lingshu.data.demo import demo_samples
from lingshu.data.shards import ShardWriter, iter_tar
from lingshu.data.mixture import MixtureEntry


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    with ShardWriter(d, max_count=60) as w:
        for s in demo_samples("train", 0, 40, 20, planted=False):
            w.write(s)
    return {"demo": sorted(d.glob("*.tar"))}


def stream(shards, mixture, n=400, bs=4, **kw):
    return MixtureStream(shards, mixture, seed=3, samples_per_epoch=n, micro_batch_size=bs, shuffle_buffer=50, **kw)


def ids(batches):
    return [s.id for b in batches for s in b]


def test_stream_yields_the_samples_the_shards_hold(shards):
    """Headers parsed once on the stream's side rebuild the same Samples (images included) as iter_tar."""
    written = {s.id: s for shard in shards["demo"] for s in iter_tar(shard)}
    got = [s for b in stream(shards, [MixtureEntry("demo")], n=len(written), bs=1) for s in b]
    assert sorted(s.id for s in got) == sorted(written)
    assert all(s == written[s.id] for s in got)
    assert any(s.images for s in got)


def test_weights_hold_within_two_percent(shards):
    mix = [MixtureEntry("demo", 3.0, ["caption"]), MixtureEntry("demo", 1.0, ["mcq"])]
    kinds = Counter(s.kind for b in stream(shards, mix, n=10_000, bs=50) for s in b)
    assert abs(kinds["caption"] / 10_000 - 0.75) < 0.02


def test_id_patterns_select_samples(shards):
    mix = [MixtureEntry("demo", 1.0, ids="*-yesno"), MixtureEntry("demo", 1.0, ["caption"])]
    got = {s.id.rsplit("-", 1)[1] for b in stream(shards, mix) for s in b}
    assert got == {"yesno", "caption"}


def test_ranks_partition_the_global_stream(shards):
    mix = [MixtureEntry("demo")]
    full = list(stream(shards, mix))
    parts = []
    for rank in (0, 1):
        st = stream(shards, mix)
        st.rank, st.world_size = rank, 2
        parts.append(list(st))
    assert len(parts[0]) == len(parts[1]) == len(full) // 2  # every rank runs the same number of steps
    interleaved = [b for pair in zip(*parts) for b in pair]
    assert ids(interleaved) == ids(full)


def test_resume_continues_exactly(shards):
    mix = [MixtureEntry("demo", 1.0, ["vqa", "mcq"]), MixtureEntry("demo", 0.5, ["caption"])]
    full = list(stream(shards, mix))
    st = stream(shards, mix)
    st.start_batch = 37
    assert ids(st) == ids(full[37:])


def test_epochs_reshuffle_deterministically(shards):
    mix = [MixtureEntry("demo")]
    a, b = stream(shards, mix), stream(shards, mix)
    b.epoch = 1
    assert ids(a) != ids(b)
    c = stream(shards, mix)
    c.epoch = 1
    assert ids(b) == ids(c)


def test_missing_kind_is_named(shards):
    with pytest.raises(ValueError, match="no samples for mixture entry"):
        list(itertools.islice(stream(shards, [MixtureEntry("demo", 1.0, ["dialogue"])]), 1))
