"""Answer text normalisation shared by prompts (is this a yes/no item?), scoring and RL rewards."""

import re
import unicodedata

_ARTICLES = {"a", "an", "the"}


def _is_punct(c: str) -> bool:
    return unicodedata.category(c).startswith("P") or c in "$+<=>^`|~"


_ASCII_PUNCT_TO_SPACE = {i: " " for i in range(128) if _is_punct(chr(i))}


def normalize_answer(text: str) -> str:
    """Lower case, NFKC, punctuation to spaces (decimal points kept), articles dropped, spaces collapsed."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", str(text)).lower()
    t = re.sub(r"(?<=\d)\.(?=\d)", "\x00", t)  # keep "3.5"
    if t.isascii():  # the common case: one table lookup instead of a Unicode category per character
        t = t.translate(_ASCII_PUNCT_TO_SPACE)
    else:
        t = "".join(" " if _is_punct(c) else c for c in t)
    t = t.replace("\x00", ".")
    return " ".join(w for w in t.split() if w not in _ARTICLES)
