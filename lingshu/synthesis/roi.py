"""Regions of interest: segmentation masks to boxes drawn on a copy, 3D volumes to 2D slices with boxes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

Box = tuple[int, int, int, int]  # x_min, y_min, x_max, y_max, inclusive pixel coordinates


def mask_to_boxes(mask: np.ndarray, per_component: bool = True, min_pixels: int = 1,
                  diagonal: bool = False) -> list[Box]:
    """Minimal enclosing boxes of a 2D mask's foreground (non-zero): one per connected component, or
    one for the whole foreground. Components smaller than `min_pixels` are dropped (mask speckle)."""
    fg = np.asarray(mask) != 0
    if fg.ndim != 2:
        raise ValueError(f"mask must be 2D, got shape {fg.shape}")
    if not per_component:
        fg_count = int(fg.sum())
        if fg_count < max(min_pixels, 1):
            return []
        ys, xs = np.nonzero(fg)
        return [(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))]
    structure = np.ones((3, 3)) if diagonal else None  # None: 4-connectivity
    labelled, n = ndimage.label(fg, structure=structure)
    sizes = ndimage.sum_labels(fg, labelled, index=np.arange(1, n + 1))
    boxes = []
    for sl, size in zip(ndimage.find_objects(labelled), sizes):
        if size >= min_pixels:
            boxes.append((sl[1].start, sl[0].start, sl[1].stop - 1, sl[0].stop - 1))
    return sorted(boxes)


def draw_boxes(image: Image.Image, boxes: Sequence[Box], color: str = "red", width: int = 2) -> Image.Image:
    """A copy of `image` (as RGB) with the boxes outlined; the input is left untouched."""
    out = image.convert("RGB")  # convert always returns a new image
    draw = ImageDraw.Draw(out)
    for box in boxes:
        draw.rectangle(tuple(int(v) for v in box), outline=color, width=width)
    return out


def load_volume(path: str | Path) -> np.ndarray:
    """A 3D array from `.npy`, or from NIfTI (`.nii`, `.nii.gz`) when nibabel is installed."""
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path)
    if path.name.endswith((".nii", ".nii.gz")):
        try:
            import nibabel
        except ImportError as e:
            raise ImportError(f"reading {path} needs nibabel (pip install nibabel)") from e
        return np.asarray(nibabel.load(str(path)).dataobj)
    raise ValueError(f"{path}: volumes must be .npy, .nii or .nii.gz")


def load_mask(path: str | Path) -> np.ndarray:
    """A 2D segmentation mask from `.npy` or an image file (non-zero pixels are foreground)."""
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path)
    return np.asarray(Image.open(path).convert("L"))


def to_uint8(volume: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> np.ndarray:
    """Window the whole volume by percentiles so every slice shares one intensity scale."""
    v = np.asarray(volume, dtype=np.float32)
    lo, hi = np.percentile(v, [low_pct, high_pct])
    if hi <= lo:
        return np.zeros(v.shape, np.uint8)
    return (np.clip((v - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


@dataclass
class VolumeSlice:
    z: int
    image: Image.Image  # the slice with its boxes drawn
    boxes: list[Box]


def volume_slices(volume: np.ndarray, mask: np.ndarray | None = None, skip_empty: bool = True,
                  per_component: bool = True, min_pixels: int = 1, color: str = "red",
                  width: int = 2) -> Iterator[VolumeSlice]:
    """Slice a (x, y, z) volume along z. A slice is empty when its mask has no foreground (or,
    without a mask, when the slice is constant); empty slices are skipped when `skip_empty`."""
    if volume.ndim != 3:
        raise ValueError(f"volume must be 3D, got shape {volume.shape}")
    if mask is not None and mask.shape != volume.shape:
        raise ValueError(f"mask shape {mask.shape} differs from volume shape {volume.shape}")
    pixels = to_uint8(volume)
    for z in range(volume.shape[2]):
        plane = pixels[:, :, z].T  # (x, y) -> rows are y
        boxes = mask_to_boxes(mask[:, :, z].T, per_component, min_pixels) if mask is not None else []
        empty = not boxes if mask is not None else plane.min() == plane.max()
        if empty and skip_empty:
            continue
        yield VolumeSlice(z, draw_boxes(Image.fromarray(plane, "L"), boxes, color, width), boxes)
