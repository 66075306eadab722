"""The tiny backbone: tokenizer and chat template round trips, processor, save/load, generation."""

import io

import torch
from PIL import Image
from transformers import PreTrainedTokenizerFast, Qwen2_5_VLForConditionalGeneration

from lingshu.data.collate import render_chat
from lingshu.data.demo import image_for
from lingshu.engines.base import GenerationRequest
from lingshu.engines.hf import HFEngine
from lingshu.models.chat_template import SPECIAL_TOKENS
from lingshu.models.export import export_hf
from lingshu.models.processor import TINY_TOKENIZER, load_processor


def test_tokenizer_round_trips_text_and_keeps_special_tokens_whole():
    tok = PreTrainedTokenizerFast.from_pretrained(TINY_TOKENIZER)
    text = "Findings: a small bright lesion on the left side . Impression: abnormal study . 肺 ✓"
    assert tok.decode(tok(text)["input_ids"]) == text
    for t in SPECIAL_TOKENS:
        assert len(tok(t, add_special_tokens=False)["input_ids"]) == 1, t


def test_chat_template_is_qwen2_vl():
    tok = PreTrainedTokenizerFast.from_pretrained(TINY_TOKENIZER)
    text = render_chat(tok, [{"role": "user", "content": "<image>\nIs there a lesion?"},
                             {"role": "assistant", "content": "yes"}])
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                    "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>\nIs there a lesion?<|im_end|>\n"
                    "<|im_start|>assistant\nyes<|im_end|>\n")
    assert tok.decode(tok(text)["input_ids"]) == text
    prompt = render_chat(tok, [{"role": "user", "content": "hi"}], add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")


def test_processor_expands_one_image_into_its_patch_tokens():
    proc = load_processor(TINY_TOKENIZER, min_pixels=3136, max_pixels=112 * 112)
    _, png = image_for(0, 0, "train")
    enc = proc(text=["<|vision_start|><|image_pad|><|vision_end|>hi"], images=[Image.open(io.BytesIO(png))],
               return_tensors="pt")
    grid = enc["image_grid_thw"][0].tolist()
    assert grid == [1, 8, 8]  # 112 px / 14 px patches
    pad = proc.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((enc["input_ids"] == pad).sum()) == 8 * 8 // 4  # 2x2 merge


def test_save_load_round_trip_loads_in_plain_transformers_and_generates(tiny, tmp_path):
    model, proc = tiny
    out = export_hf(model, proc, tmp_path / "hf")
    loaded = Qwen2_5_VLForConditionalGeneration.from_pretrained(out)
    for (n, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), n
    proc2 = load_processor(out)
    assert proc2.image_processor.size["longest_edge"] == proc.image_processor.size["longest_edge"]
    _, png = image_for(1, 0, "test")
    engine = HFEngine(loaded, proc2)
    [text] = engine.generate([GenerationRequest(messages=[{"role": "user", "content": "<image>\nDescribe."}],
                                                images=[png], max_new_tokens=5)])
    assert isinstance(text, str)


def test_greedy_generation_is_the_same_for_batch_sizes_1_and_8(tiny):
    model, proc = tiny
    reqs = [GenerationRequest(messages=[{"role": "user", "content": "<image>\n" + "Is there a lesion? " * (i % 3 + 1)}],
                              images=[image_for(i, 0, "test")[1]], max_new_tokens=6) for i in range(8)]
    one = HFEngine(model, proc, batch_size=1).generate(reqs)
    eight = HFEngine(model, proc, batch_size=8).generate(reqs)
    assert one == eight


def test_training_forward_sees_the_positions_generation_uses(tiny):
    """The collator's batch (right-padded, with mm_token_type_ids) gives the model the same logits
    at the answer position as the engine's generation prompt: same 3D rope positions."""
    from lingshu.data.collate import SFTCollator
    from lingshu.data.demo import demo_samples
    from lingshu.prompts import render_messages

    model, proc = tiny
    samples = [s for s in demo_samples("train", 0, 4, 0, planted=False) if s.id.endswith("-yesno")]
    batch = SFTCollator(proc)(samples)
    batch.pop("num_samples")
    labels = batch.pop("labels")
    engine = HFEngine(model, proc)
    with torch.no_grad():
        train_logits = model(**batch).logits
        for i, s in enumerate(samples):
            pos = int((labels[i] != -100).nonzero()[0]) - 1  # the position that predicts the answer
            enc = engine.encode([GenerationRequest(messages=render_messages(s)[:1], images=s.images)])
            gen_logits = model(**enc).logits[0, -1]
            assert torch.allclose(train_logits[i, pos], gen_logits, atol=1e-4), s.id
