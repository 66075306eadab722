import numpy as np
import pytest
from PIL import Image

from lingshu.synthesis.roi import draw_boxes, load_volume, mask_to_boxes, volume_slices


def hand_drawn_mask() -> np.ndarray:
    m = np.zeros((20, 30), np.uint8)
    m[2:5, 3:8] = 1       # rectangle: rows 2-4, columns 3-7
    m[10:18, 20] = 2      # vertical bar, another label value: still foreground
    m[17, 20:26] = 2      # ... with a foot: one L-shaped component
    m[8, 12] = 1          # a single pixel
    m[9, 13] = 1          # touching it only diagonally
    return m


def test_one_box_per_connected_component():
    assert mask_to_boxes(hand_drawn_mask()) == [(3, 2, 7, 4), (12, 8, 12, 8), (13, 9, 13, 9), (20, 10, 25, 17)]


def test_diagonal_connectivity_joins_corner_touching_pixels():
    assert (12, 8, 13, 9) in mask_to_boxes(hand_drawn_mask(), diagonal=True)


def test_one_box_for_the_whole_foreground_and_speckle_filter():
    m = hand_drawn_mask()
    assert mask_to_boxes(m, per_component=False) == [(3, 2, 25, 17)]
    assert mask_to_boxes(m, min_pixels=2) == [(3, 2, 7, 4), (20, 10, 25, 17)]
    assert mask_to_boxes(np.zeros((4, 4))) == [] and mask_to_boxes(np.zeros((4, 4)), per_component=False) == []


def test_draw_boxes_on_a_copy():
    image = Image.new("L", (30, 20), 0)
    out = draw_boxes(image, [(3, 2, 7, 4)], color="red", width=1)
    assert image.getextrema() == (0, 0)  # the input is untouched
    assert out.mode == "RGB" and out.size == (30, 20)
    px = np.asarray(out)
    assert tuple(px[2, 3]) == (255, 0, 0) and tuple(px[4, 7]) == (255, 0, 0)  # corners of the outline
    assert tuple(px[3, 5]) == (0, 0, 0) and tuple(px[10, 10]) == (0, 0, 0)    # inside and outside stay dark


def volume_and_mask():
    rng = np.random.default_rng(0)
    volume = rng.normal(100, 20, (24, 16, 6)).astype(np.float32)  # (x, y, z)
    mask = np.zeros(volume.shape, np.uint8)
    mask[4:9, 2:6, 2] = 1
    mask[4:9, 2:6, 3] = 1
    mask[15:20, 10:14, 3] = 1
    return volume, mask


def test_volume_slices_along_z_skip_empty():
    volume, mask = volume_and_mask()
    slices = list(volume_slices(volume, mask))
    assert [s.z for s in slices] == [2, 3]
    assert slices[0].boxes == [(4, 2, 8, 5)]  # x from the first axis, y from the second
    assert slices[1].boxes == [(4, 2, 8, 5), (15, 10, 19, 13)]
    assert slices[0].image.size == (24, 16)
    assert tuple(np.asarray(slices[0].image)[2, 4]) == (255, 0, 0)
    assert [s.z for s in volume_slices(volume, mask, skip_empty=False)] == list(range(6))


def test_volume_without_mask_skips_constant_slices():
    volume, _ = volume_and_mask()
    volume[:, :, 0] = 7.0
    assert [s.z for s in volume_slices(volume)] == [1, 2, 3, 4, 5]


def test_load_volume_npy_and_nifti(tmp_path):
    volume, _ = volume_and_mask()
    np.save(tmp_path / "v.npy", volume)
    assert np.array_equal(load_volume(tmp_path / "v.npy"), volume)
    with pytest.raises(ValueError):
        load_volume(tmp_path / "v.mha")
    nibabel = pytest.importorskip("nibabel")
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), str(tmp_path / "v.nii.gz"))
    assert np.allclose(load_volume(tmp_path / "v.nii.gz"), volume)
