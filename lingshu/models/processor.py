"""An image-only Qwen2.5-VL processor that needs no torchvision (and so no video processor).

`AutoProcessor` cannot rebuild it in a torchvision-free environment, so callers load it with
`load_processor(path)`, which works for the tiny backbone and for real Qwen2.5-VL checkpoints.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerFast, Qwen2_5_VLProcessor, Qwen2VLImageProcessorPil

TINY_TOKENIZER = Path(__file__).resolve().parents[1] / "assets" / "tiny_tokenizer"


class LingshuProcessor(Qwen2_5_VLProcessor):
    attributes = ["image_processor", "tokenizer"]
    image_processor_class = "Qwen2VLImageProcessorPil"
    tokenizer_class = "AutoTokenizer"

    def save_pretrained(self, save_directory, **kwargs):
        # Also write preprocessor_config.json and name the stock processor class, so vLLM and
        # AutoProcessor (where torchvision exists) load the folder like any Qwen2.5-VL checkpoint.
        out = super().save_pretrained(save_directory, **kwargs)
        self.image_processor.save_pretrained(save_directory)
        cfg = Path(save_directory) / "processor_config.json"
        if cfg.exists():
            data = json.loads(cfg.read_text())
            data["processor_class"] = "Qwen2_5_VLProcessor"
            cfg.write_text(json.dumps(data, indent=2))
        return out

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        super().__init__(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                         chat_template=chat_template, **kwargs)


def load_processor(path: str | Path, min_pixels: int | None = None, max_pixels: int | None = None) -> LingshuProcessor:
    """Tokenizer + PIL image processor from a checkpoint folder (pixel budget pinned if given)."""
    path = Path(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError):
        tokenizer = PreTrainedTokenizerFast.from_pretrained(path)
    if (path / "preprocessor_config.json").exists() or (path / "processor_config.json").exists():
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(path)
    else:
        image_processor = Qwen2VLImageProcessorPil()
    if min_pixels is not None or max_pixels is not None:
        size = dict(image_processor.size)
        size["shortest_edge"] = min_pixels or size["shortest_edge"]
        size["longest_edge"] = max_pixels or size["longest_edge"]
        image_processor = Qwen2VLImageProcessorPil(**{**image_processor.to_dict(), "size": size})
    return LingshuProcessor(image_processor=image_processor, tokenizer=tokenizer,
                            chat_template=tokenizer.chat_template)
