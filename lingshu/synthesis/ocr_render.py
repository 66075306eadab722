"""OCR instructions: an exam question (with its options) rendered as a picture; the sample asks the
model to read and explain it, and answers with the reasoning and the final answer.

Without an engine the answer restates the question and gives the known answer. With one, a model
writes `{reasoning, answer}` and the sample is kept only when that answer is exactly the known one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterator

from PIL import Image, ImageDraw, ImageFont

from lingshu.data.demo import encode
from lingshu.prompts import exam_text
from lingshu.schema import LETTERS, Sample
from lingshu.synthesis.base import Output
from lingshu.synthesis.cot_distill import parse_reasoning, reference_answer
from lingshu.synthesis.generation import Drop, Job
from lingshu.synthesis.prompted import PromptedSynthesizer
from lingshu.synthesis.records import provenance

FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf")


@lru_cache(maxsize=None)
def find_font(size: int, path: str | None = None) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """`path`, else DejaVu Sans (matplotlib ships it, most Linux systems too), else PIL's own font."""
    candidates = [path] if path else []
    try:
        import matplotlib
        candidates.append(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"))
    except ImportError:
        pass
    for candidate in [*candidates, *FONT_CANDIDATES]:
        if candidate and Path(candidate).is_file():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def _fit(word: str, font, max_width: float) -> int:
    n = 1
    while n < len(word) and font.getlength(word[: n + 1]) <= max_width:
        n += 1
    return n


def wrap(text: str, font, max_width: float) -> list[str]:
    """Lines no wider than `max_width` pixels; explicit newlines are kept, over-long words are split."""
    lines = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            while font.getlength(word) > max_width:  # a URL or formula wider than the page
                if line:
                    lines.append(line)
                    line = ""
                cut = _fit(word, font, max_width)
                lines.append(word[:cut])
                word = word[cut:]
            candidate = f"{line} {word}" if line else word
            if line and font.getlength(candidate) > max_width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def render_text(text: str, width: int = 896, font_size: int = 28, margin: int = 32, line_spacing: float = 1.35,
                font_path: str | None = None) -> Image.Image:
    """Black text on white, wrapped to `width`; the height grows with the text."""
    font = find_font(font_size, font_path)
    lines = wrap(text, font, width - 2 * margin)
    line_height = round(font_size * line_spacing)
    image = Image.new("RGB", (width, 2 * margin + line_height * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * line_height), line, fill="black", font=font)
    return image


class OCRRender(PromptedSynthesizer):
    name = "ocr_render"
    requires_engine = False

    def __init__(self, engine=None, prompts=None,
                 instruction: str = "Read the question in the image, explain it, and answer it.",
                 width: int = 896, font_size: int = 28, margin: int = 32,
                 font_path: str | None = None, **kw):
        super().__init__(engine, prompts or {"reason": "ocr_reasoning.txt"}, **kw)
        self.instruction = instruction
        self.render_args = {"width": width, "font_size": font_size, "margin": margin, "font_path": font_path}

    def accepts(self, sample: Sample) -> bool:
        return not sample.images and bool(sample.answer) and sample.answer_type in ("mcq", "closed", "open")

    def process(self, batch: list[Sample]) -> Iterator[Output]:
        questions = [exam_text(s) for s in batch]  # printed without the instructions meant for a model
        if self.generator is None:
            for s, q in zip(batch, questions):
                reply = f"The image shows this question:\n{q}\nThe answer is {reference_answer(s)}."
                yield self._sample(s, q, reply, provenance(self.name, "rule", self.instruction, [s]))
            return
        jobs = [Job(self.request(self.prompt("reason", question=q)), self.prompts["reason"], self._parser(s))
                for s, q in zip(batch, questions)]
        for s, q, out in zip(batch, questions, self.generator.run(jobs)):
            if not out.ok:
                yield self.reject(s, out.error, out.raw)
                continue
            reply = f"{out.value['reasoning']}\n\nThe answer is {reference_answer(s)}."
            yield self._sample(s, q, reply, self.meta(["reason"], [s]))

    def _parser(self, s: Sample):
        accepted = {s.answer, reference_answer(s)}
        if s.answer_type == "mcq" and s.options and s.answer in LETTERS[: len(s.options)]:
            accepted.add(s.options[LETTERS.index(s.answer)])

        def parse(raw: str) -> dict[str, str]:
            value = parse_reasoning(raw)
            if value["answer"] not in accepted:  # the paper keeps only exact matches
                raise Drop("answer mismatch")
            return value
        return parse

    def _sample(self, s: Sample, question: str, reply: str, meta: dict) -> Sample:
        image = encode(render_text(question, **self.render_args))
        return Sample(id=f"{s.id}-ocr", source=s.source, kind="vqa", images=[image], answer=s.answer,
                      answer_type="open", modality="rendered text",
                      messages=[{"role": "user", "content": f"<image>\n{self.instruction}"},
                                {"role": "assistant", "content": reply}], meta=meta)
