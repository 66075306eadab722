"""Qwen2.5-VL's 3D (mrope) position ids for one sample, computed without the model.

Packing needs every sample's positions to restart at 0, and the collator (a DataLoader worker) has
no model to ask; this reproduces `Qwen2_5_VLModel.get_rope_index` for image inputs (a test checks
they agree): text tokens count up on all three axes, an image span takes (t, h, w) grid positions
offset by the text before it, and text after it resumes at offset + max(h, w) / merge.
"""

from __future__ import annotations

import torch


def mrope_positions(mm_token_type_ids: torch.Tensor, image_grid_thw: torch.Tensor | None,
                    spatial_merge_size: int = 2) -> torch.Tensor:
    """(3, L) positions for one unpadded sample; `mm_token_type_ids` is 1 on image tokens."""
    types = mm_token_type_ids.tolist()
    grids = iter(image_grid_thw.tolist() if image_grid_thw is not None else [])
    out, pos, i = [], 0, 0
    while i < len(types):
        j = i
        while j < len(types) and types[j] == types[i]:
            j += 1
        if types[i] == 0:
            out.append(torch.arange(pos, pos + j - i).expand(3, -1))
            pos += j - i
        else:
            t, h, w = next(grids)
            h, w = h // spatial_merge_size, w // spatial_merge_size
            if t * h * w != j - i:
                raise ValueError(f"an image span of {j - i} tokens does not match its grid {t}x{h}x{w}")
            grid = torch.stack(torch.meshgrid(torch.arange(t), torch.arange(h), torch.arange(w), indexing="ij"))
            out.append(grid.reshape(3, -1) + pos)
            pos += max(h, w)
        i = j
    return torch.cat(out, dim=1) if out else torch.zeros(3, 0, dtype=torch.long)
