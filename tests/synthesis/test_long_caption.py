import base64
import io

import numpy as np
from omegaconf import OmegaConf
from PIL import Image

from lingshu.synthesis import Reject, apply
from lingshu.synthesis.long_caption import LongCaption, load_knowledge

from .helpers import CONF_DIR, caption_sample, user_text

CONF = OmegaConf.load(CONF_DIR / "synthesis" / "long_caption.yaml")
LONG = " ".join(["The axial CT shows a round nodule in the right lower lobe with soft-tissue attenuation."] * 3)


def sent_images(body) -> list[bytes]:
    return [base64.b64decode(p["image_url"]["url"].split(",", 1)[1]) for m in body["messages"]
            if isinstance(m["content"], list) for p in m["content"] if p["type"] == "image_url"]


def script(body):
    text = user_text(body)
    if text.startswith("Write a short caption"):
        return "SHORT: CT of the chest with a nodule."
    if "factually" in text:
        return "FACTUAL: a nodule inside the box."
    if "specialist" in text:
        return "PREFERENCE: axial plane, no contrast."
    if text.startswith("Merge"):
        return "too short" if "TERSE" in text else LONG
    return 400


def build(engine, tmp_path, **kw):
    return LongCaption(engine, checklists=OmegaConf.to_container(CONF.checklists), cache_path=tmp_path / "c.sqlite",
                       knowledge={"nodule": "A nodule is a small rounded opacity."}, retries=1, **kw)


def test_five_steps(server, engine, tmp_path):
    server.script = script
    boxed = caption_sample(0, "c", labels={"abnormality": "nodule"}, metadata={"age": 71, "view": "axial"},
                           boxes=[[4, 4, 20, 20]])
    same_image = caption_sample(0, "another question on the same image")
    same_image.id = "cap-0-again"
    plain = caption_sample(1, "c")
    syn = build(engine, tmp_path)
    out = list(apply({"long_caption": syn}, [boxed, same_image, plain], keep_inputs=False))
    assert [o.id for o in out] == ["cap-0-longcap", "cap-1-longcap"]  # one caption per image
    # short, factual, preference, summary per image; both summary prompts are identical here
    # (the scripted replies do not depend on the image), and identical requests go out once
    assert server.count == 2 * 4 - 1

    caption = out[0]
    assert caption.kind == "caption" and caption.messages[1]["content"] == LONG and caption.images == boxed.images
    assert caption.meta["short_caption"].startswith("SHORT") and caption.meta["factual"].startswith("FACTUAL")
    assert set(caption.meta["prompt_hashes"]) == {"short", "factual", "preference", "summary"}

    short = [user_text(b) for b in server.bodies if user_text(b).startswith("Write a short caption")]
    assert all("age:" not in p and "71" not in p for p in short)  # identity and age never reach a prompt
    assert any("view: axial" in p and "A nodule is a small rounded opacity." in p for p in short)
    factual = [b for b in server.bodies if "factually" in user_text(b)]
    sent = {sent_images(b)[0] for b in factual}
    assert plain.images[0] in sent and boxed.images[0] not in sent  # the boxed image went out with its box drawn
    preference = [user_text(b) for b in server.bodies if "specialist" in user_text(b)]
    assert all("attenuation" in p for p in preference)  # the CT checklist
    assert [sent_images(b) for b in server.bodies if user_text(b).startswith(("Write", "Merge"))] == [[]] * 3


def test_short_summary_is_retried_then_rejected(server, engine, tmp_path):
    syn = build(engine, tmp_path, min_words=20)
    sample = caption_sample(2, "c", metadata={"note": "TERSE"})
    # the summary prompt carries the factual text, not the metadata: mark the factual reply instead
    server.script = lambda body: "FACTUAL TERSE" if "factually" in user_text(body) else script(body)
    out = list(apply({"long_caption": syn}, [sample], keep_inputs=False))
    assert len(out) == 1 and isinstance(out[0], Reject)
    assert out[0].reason == "summary: summary shorter than 20 words" and out[0].raw == "too short"
    assert server.count == 3 + 2


def test_mask_path_becomes_boxes_on_the_factual_image(server, engine, tmp_path):
    server.script = script
    mask = np.zeros((32, 32), np.uint8)
    mask[5:10, 5:10] = 1
    mask[20:30, 18:28] = 1
    np.save(tmp_path / "mask.npy", mask)
    sample = caption_sample(3, "c", mask_path=str(tmp_path / "mask.npy"))
    out = list(apply({"long_caption": build(engine, tmp_path)}, [sample], keep_inputs=False))
    assert out[0].images == sample.images  # the caption is for the plain image
    factual = next(b for b in server.bodies if "factually" in user_text(b))
    drawn = np.asarray(Image.open(io.BytesIO(sent_images(factual)[0])).convert("RGB"))
    assert tuple(drawn[5, 5]) == (255, 0, 0) and tuple(drawn[20, 18]) == (255, 0, 0)  # two boxes' corners


def test_knowledge_from_json_lines(tmp_path):
    path = tmp_path / "k.jsonl"
    path.write_text('{"term": "nodule", "fact": "A small rounded opacity."}\n\n'
                    '{"term": "effusion", "fact": "Fluid."}\n')
    assert load_knowledge(path) == {"nodule": "A small rounded opacity.", "effusion": "Fluid."}
