"""Build the tiny byte-level BPE tokenizer shipped in lingshu/assets/tiny_tokenizer (run once, commit).

Trained on the demo corpus, the benchmark prompt texts and a little general medical prose, with
Qwen2.5-VL's special tokens and chat template, so the tiny backbone tokenises like the real one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lingshu.data.demo import TEXT_FACTS, demo_samples  # noqa: E402
from lingshu.models.chat_template import QWEN2_VL_CHAT_TEMPLATE, SPECIAL_TOKENS  # noqa: E402

PROMPTS = [
    "Answer with the option's letter from the given choices directly.",
    "Please output 'yes' or 'no'(no extra output).",
    "Answer the question using a single word or phrase.",
    "Please answer the question concisely.",
    "You are a helpful assistant. Please generate a report for the given images, including both "
    "findings and impressions. Return the report in the following format: Findings: {} Impression: {}.",
    "Question: Options: Put your final answer within \\boxed{}.",
    "<think> </think> <answer> </answer> Revised response: Consistent. Inconsistent.",
    "The chest radiograph shows clear lungs without consolidation, effusion or pneumothorax. "
    "Heart size is normal. Computed tomography, magnetic resonance imaging, ultrasound, "
    "histopathology, dermoscopy, fundus photography, endoscopy, microscopy.",
]


def corpus():
    for s in demo_samples("train", seed=0, num_images=200, num_text=100, planted=False):
        for m in s.messages:
            yield m["content"]
    for q, a, wrong in TEXT_FACTS:
        yield " ".join([q, a, *wrong])
    yield from PROMPTS * 20
    yield "".join(chr(c) for c in range(32, 127))


def main(out_dir: Path = ROOT / "lingshu" / "assets" / "tiny_tokenizer", vocab_size: int = 2048) -> None:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   model_max_length=32768, padding_side="left", clean_up_tokenization_spaces=False)
    fast.chat_template = QWEN2_VL_CHAT_TEMPLATE
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out_dir)
    print(f"saved {len(fast)} tokens to {out_dir}")


if __name__ == "__main__":
    main()
