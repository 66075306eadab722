"""Per-sample curation ops: each computes its statistic into `sample.meta["curation"]`, then decides.

Keeping the statistic separate from the threshold means a rerun with other thresholds can be
audited against the recorded numbers. An op returns None (keep) or a `Verdict`.
"""

from __future__ import annotations

import io
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import imagehash
from PIL import Image

from lingshu.schema import Sample

# pHash is computed on JPEGs decoded at reduced scale (>= this size): several times faster, and
# every hash in the project (samples, benchmark index) goes through the same decode so they compare.
PHASH_DRAFT = 256


@dataclass
class Verdict:
    action: str  # drop | quarantine
    reason: str
    statistic: Any = None


def stats(sample: Sample) -> dict[str, Any]:
    return sample.meta.setdefault("curation", {})


class Op:
    """Base op. `kinds` (sample kinds), `sources` (source names) and `images` (True: only samples
    with images, False: only text-only samples) restrict which samples it looks at."""

    dedup = False  # dedup ops decide in the merge step over signatures (see dedup.py)

    def __init__(self, name: str | None = None, kinds: Sequence[str] | None = None,
                 sources: Sequence[str] | None = None, images: bool | None = None):
        self.name = name or type(self).__name__.lower()
        self.kinds = set(kinds) if kinds else None
        self.sources = set(sources) if sources else None
        self.images = images

    def applies(self, sample: Sample) -> bool:
        return ((self.kinds is None or sample.kind in self.kinds)
                and (self.sources is None or sample.source in self.sources)
                and (self.images is None or bool(sample.images) == self.images))

    def setup(self) -> None:
        """One-time heavy work (tokenizer, benchmark index), run before worker processes fork."""

    def __call__(self, sample: Sample, facts: Facts) -> Verdict | None:
        raise NotImplementedError


# -- shared image helpers (a record's Facts carry decodes and hashes to the ops after) ----------
def open_image(data: bytes, max_pixels: int | None, draft_size: int | None) -> tuple[Image.Image, tuple[int, int]]:
    """Decode fully (so truncation is caught), at reduced JPEG scale when `draft_size` allows."""
    if not data:
        raise ValueError("empty image")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = Image.open(io.BytesIO(data))
    size = img.size
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"zero-size image {size}")
    if max_pixels and size[0] * size[1] > max_pixels:
        raise ValueError(f"{size[0]}x{size[1]} exceeds max_pixels {max_pixels} (decompression-bomb guard)")
    if draft_size and img.format == "JPEG":
        img.draft("RGB", (draft_size, draft_size))
    img.load()
    return img, size


def phash_of(img: Image.Image) -> int:
    return int(str(imagehash.phash(img)), 16)


def phash_bytes(data: bytes) -> int:
    return phash_of(open_image(data, None, PHASH_DRAFT)[0])


@dataclass
class ImageFacts:
    size: tuple[int, int] | None = None  # (width, height), known once the image decoded cleanly
    phash: int | None = None


class ImageCache:
    """Size and pHash of the last few distinct images. Datasets ask several questions about one image
    (SLAKE, VQA-RAD, the demo), so each image is decoded and hashed once, not once per question.
    One per pipeline (the runner makes it and every record's `Facts` points at it): two pipelines
    in one process share nothing."""

    def __init__(self, capacity: int = 32):
        self.capacity = capacity
        self.known: OrderedDict[tuple, ImageFacts] = OrderedDict()

    def get(self, data: bytes) -> ImageFacts:
        key = (len(data), hash(data))  # bytes cache their hash: cheap after the first look
        facts = self.known.get(key)
        if facts is None:
            facts = self.known[key] = ImageFacts()
            if len(self.known) > self.capacity:
                self.known.popitem(last=False)
        else:
            self.known.move_to_end(key)
        return facts


@dataclass
class Facts:
    """What the ops learn about one record, for the ops after them: the pictures the decode check
    decoded (kept until hashed) and the pHashes. `images` remembers recently seen images."""

    images: ImageCache = field(default_factory=ImageCache)
    decoded: dict[int, Image.Image] = field(default_factory=dict)  # image index -> its reduced-scale decode
    phash: list[int] | None = None


def phashes(sample: Sample, facts: Facts) -> list[int]:
    """64-bit perceptual hashes of a sample's images (computed once per image)."""
    if facts.phash is None:
        out = []
        for i, data in enumerate(sample.images):
            known = facts.images.get(data)
            if known.phash is None:
                img = facts.decoded.pop(i, None) or open_image(data, None, PHASH_DRAFT)[0]
                known.phash = phash_of(img)
            out.append(known.phash)
        facts.phash = out
        stats(sample)["phash"] = [f"{h:016x}" for h in out]
    return facts.phash


class DecodeCheck(Op):
    """Quarantine images that are empty, truncated, undecodable or over the pixel limit."""

    def __init__(self, max_pixels: int | None = 89_478_485, draft_size: int | None = PHASH_DRAFT, **kw):
        super().__init__(**kw)
        self.max_pixels, self.draft_size = max_pixels, draft_size

    def __call__(self, sample: Sample, facts: Facts) -> Verdict | None:
        sizes = []
        for i, data in enumerate(sample.images):
            known = facts.images.get(data)
            try:
                if known.size is not None:  # decoded before: only the limit can still differ
                    w, h = known.size
                    if self.max_pixels and w * h > self.max_pixels:
                        raise ValueError(f"{w}x{h} exceeds max_pixels {self.max_pixels} (decompression-bomb guard)")
                else:
                    img, known.size = open_image(data, self.max_pixels, self.draft_size)
                    if self.draft_size == PHASH_DRAFT and known.phash is None:
                        facts.decoded[i] = img  # the pHash op hashes this decode
            except Exception as e:  # PIL raises many types for bad data
                return Verdict("quarantine", f"image {i}: {type(e).__name__}: {e}", {"image": i})
            sizes.append(list(known.size))
        stats(sample)["image_sizes"] = sizes
        return None


def image_sizes(sample: Sample) -> list[list[int]]:
    sizes = stats(sample).get("image_sizes")
    if sizes is None:  # no decode check before: the header is enough
        sizes = [list(Image.open(io.BytesIO(b)).size) for b in sample.images]
        stats(sample)["image_sizes"] = sizes
    return sizes


class MinSize(Op):
    """Drop samples with an image whose shorter side is below `min_side` (paper: 64 px)."""

    def __init__(self, min_side: int = 64, max_aspect: float | None = None, max_pixels: int | None = None, **kw):
        super().__init__(**kw)
        self.min_side, self.max_aspect, self.max_pixels = min_side, max_aspect, max_pixels

    def __call__(self, sample: Sample, facts: Facts) -> Verdict | None:
        sizes = image_sizes(sample)
        if not sizes:
            return None
        side = min(min(w, h) for w, h in sizes)
        aspect = max(max(w, h) / max(min(w, h), 1) for w, h in sizes)
        pixels = max(w * h for w, h in sizes)
        st = stats(sample)
        st["min_side"], st["max_aspect"] = side, round(aspect, 3)
        if side < self.min_side:
            return Verdict("drop", f"min side {side} < {self.min_side}", side)
        if self.max_aspect and aspect > self.max_aspect:
            return Verdict("drop", f"aspect ratio {aspect:.2f} > {self.max_aspect}", aspect)
        if self.max_pixels and pixels > self.max_pixels:
            return Verdict("drop", f"{pixels} pixels > {self.max_pixels}", pixels)
        return None


def load_token_counter(tokenizer: str | None, fallback: str | None, op_name: str):
    """A text -> token count function from a tokenizer directory (or file), or whitespace words."""
    if tokenizer:
        path = Path(str(tokenizer)).expanduser()
        file = path / "tokenizer.json" if path.is_dir() else path
        if not file.exists():
            raise FileNotFoundError(f"curation op {op_name}: no tokenizer.json at {path}; "
                                    f"set model.tokenizer_path to the backbone's tokenizer folder")
        from tokenizers import Tokenizer  # the fast tokenizer core: no transformers import needed

        tok = Tokenizer.from_file(str(file))
        return lambda text: len(tok.encode(text, add_special_tokens=False).ids)
    if fallback == "whitespace":
        return lambda text: len(text.split())
    raise ValueError(f"curation op {op_name}: no tokenizer; set model.tokenizer_path=<dir> "
                     f"(or fallback=whitespace on this op to count words instead)")


class TokenLength(Op):
    """Drop captions shorter than `min_tokens` or longer than `max_tokens` backbone tokens."""

    def __init__(self, tokenizer: str | None = None, min_tokens: int = 10, max_tokens: int = 1024,
                 fallback: str | None = None, **kw):
        kw.setdefault("kinds", ["caption"])
        super().__init__(**kw)
        self.min_tokens, self.max_tokens = min_tokens, max_tokens
        self.count = load_token_counter(tokenizer, fallback, self.name)

    def __call__(self, sample: Sample, facts: Facts) -> Verdict | None:
        text = sample.caption if sample.kind == "caption" else next(
            (m["content"] for m in sample.messages if m["role"] == "assistant"), "")
        n = self.count(text or "")
        stats(sample)["caption_tokens"] = n
        if n < self.min_tokens:
            return Verdict("drop", f"{n} tokens < {self.min_tokens}", n)
        if n > self.max_tokens:
            return Verdict("drop", f"{n} tokens > {self.max_tokens}", n)
        return None
