"""Report-generation metrics: BLEU-1..4, ROUGE-L (F), CIDEr-D and METEOR, all x100.

Definitions follow the reference implementations exactly (pycocoevalcap's corpus BLEU with the
"closest" reference length and its CIDEr-D with sigma 6, clipping and document frequencies from
the test set; rouge-score's LCS F-measure averaged over pairs) so numbers are comparable with
published tables; tests check equality to 1e-6. They are our own code and faster: n-grams are
counted once per text and shared, and the LCS uses a bit-parallel algorithm.
METEOR needs Java and the jar shipped with pycocoevalcap; it is skipped (None) without them.
"""

from __future__ import annotations

import math
import shutil
from collections import Counter
from collections.abc import Sequence

N = 4
CIDER_SIGMA = 6.0


def tokenize_report(text: str | None) -> list[str]:
    """MedEvalKit tokenisation: lower case, '.' -> ' .', split on spaces."""
    return (text or "").lower().replace(".", " .").split()


def _ngrams(tokens: list[str]) -> list[Counter]:
    return [Counter(tuple(tokens[i:i + k]) for i in range(len(tokens) - k + 1)) for k in range(1, N + 1)]


def bleu(hyp_grams: list[list[Counter]], hyp_lens: list[int], ref_grams: list[list[Counter]],
         ref_lens: list[int]) -> list[float]:
    """Corpus BLEU-1..4 (one reference each) with pycocoevalcap's smoothing constants."""
    tiny, small = 1e-15, 1e-9
    correct, guess = [0] * N, [0] * N
    for h, r, hl in zip(hyp_grams, ref_grams, hyp_lens):
        for k in range(N):
            guess[k] += max(0, hl - k)
            rk = r[k]
            correct[k] += sum(min(c, rk[g]) for g, c in h[k].items() if g in rk)
    testlen, reflen = sum(hyp_lens), sum(ref_lens)
    scores, prod = [], 1.0
    for k in range(N):
        prod *= (correct[k] + tiny) / (guess[k] + small)
        scores.append(prod ** (1.0 / (k + 1)))
    ratio = (testlen + tiny) / (reflen + small)
    if ratio < 1:
        scores = [s * math.exp(1 - 1 / ratio) for s in scores]
    return scores


def cider_d(hyp_grams: list[list[Counter]], ref_grams: list[list[Counter]]) -> float:
    """Mean CIDEr-D over pairs, document frequencies from the references of this test set."""
    df: Counter = Counter()
    for r in ref_grams:
        for k in range(N):
            df.update(r[k].keys())
    log_n = math.log(float(len(ref_grams)))

    def vectorise(grams: list[Counter]):
        vecs, norms = [], []
        for k in range(N):
            v = {g: tf * (log_n - math.log(max(1.0, df.get(g, 0)))) for g, tf in grams[k].items()}
            vecs.append(v)
            norms.append(math.sqrt(sum(x * x for x in v.values())))
        # The reference implementation measures length by bigram count; kept for equal numbers.
        return vecs, norms, sum(grams[1].values())

    total = 0.0
    for h, r in zip(hyp_grams, ref_grams):
        hv, hn, hl = vectorise(h)
        rv, rn, rl = vectorise(r)
        penalty = math.exp(-((hl - rl) ** 2) / (2 * CIDER_SIGMA ** 2))
        score = 0.0
        for k in range(N):
            rk = rv[k]
            val = sum(min(x, rk[g]) * rk[g] for g, x in hv[k].items() if g in rk)
            if hn[k] != 0 and rn[k] != 0:
                val /= hn[k] * rn[k]
            score += val * penalty
        total += score / N * 10.0
    return total / len(hyp_grams)


def lcs_length(a: Sequence, b: Sequence) -> int:
    """Longest common subsequence length, bit-parallel (Hyyro 2004): O(len(a) * len(b) / wordsize)."""
    if not a or not b:
        return 0
    masks: dict = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def rouge_l_f(hyp: list[str], ref: list[str]) -> float:
    lcs = lcs_length(ref, hyp)
    if lcs == 0:  # also covers empty responses, which crash MedEvalKit's ROUGE
        return 0.0
    p, r = lcs / len(hyp), lcs / len(ref)
    return 2 * p * r / (p + r)


_METEOR = None  # one Java process per Python process: starting it costs about 9 s


def meteor(hyps: list[str], refs: list[str]) -> float | None:
    """METEOR via pycocoevalcap's jar; None without Java or pycocoevalcap."""
    global _METEOR
    if shutil.which("java") is None:
        return None
    try:
        from pycocoevalcap.meteor.meteor import Meteor
    except ImportError:
        return None
    if _METEOR is None:
        _METEOR = Meteor()
    score, _ = _METEOR.compute_score({i: [r] for i, r in enumerate(refs)}, {i: [h] for i, h in enumerate(hyps)})
    return float(score)


def report_scores(hyps: Sequence[str | None], refs: Sequence[str], with_meteor: bool = True) -> dict[str, float | None]:
    """All lexical report metrics, x100, over paired hypotheses and references (raw text)."""
    if len(hyps) != len(refs):
        raise ValueError(f"report metrics: {len(hyps)} hypotheses but {len(refs)} references")
    if not hyps:
        return {}
    ht = [tokenize_report(h) for h in hyps]
    rt = [tokenize_report(r) for r in refs]
    hg, rg = [_ngrams(t) for t in ht], [_ngrams(t) for t in rt]
    b = bleu(hg, [len(t) for t in ht], rg, [len(t) for t in rt])
    out: dict[str, float | None] = {f"bleu_{k + 1}": 100 * b[k] for k in range(N)}
    out["rouge_l"] = 100 * sum(rouge_l_f(h, r) for h, r in zip(ht, rt)) / len(ht)
    out["cider"] = 100 * cider_d(hg, rg)
    if with_meteor:
        m = meteor([" ".join(t) for t in ht], [" ".join(t) for t in rt])
        out["meteor"] = None if m is None else 100 * m
    return out
