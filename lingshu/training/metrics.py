"""Running metrics that every rank logs identically: sums, counts and maxima over a fixed set of
names, reduced over all ranks by torchmetrics in one collective per `compute`.

The names are fixed up front (reward components, answer types, ...), so every rank reduces the
same state even when it saw none of an answer type this step: nothing waits on a rank that has
nothing to say (a metric logged by some ranks only is how `self.log(sync_dist=True)` hangs). A name
nobody updated has count 0 and is left out of `compute`, on every rank alike.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torchmetrics import Metric


def _value(x) -> torch.Tensor | float:
    """A tensor is added where it lives: `float()` of a GPU tensor would wait for the device on every
    micro-batch; `compute` syncs once per step."""
    return x.detach() if torch.is_tensor(x) else float(x)


class RunningMeans(Metric):
    """`update(name, total, count)` adds to a mean; `update_sum(name, value)` to a total;
    `update_max(name, value)` to a maximum. `compute()` -> each over all ranks."""

    full_state_update = False

    def __init__(self, means: Iterable[str], maxima: Iterable[str] = (), sums: Iterable[str] = ()):
        super().__init__()
        self.mean_names, self.max_names = list(dict.fromkeys(means)), list(dict.fromkeys(maxima))
        self.sum_names = list(dict.fromkeys(sums))
        self._mean_index = {n: i for i, n in enumerate(self.mean_names)}
        self._max_index = {n: i for i, n in enumerate(self.max_names)}
        self._sum_index = {n: i for i, n in enumerate(self.sum_names)}
        self.add_state("sums", torch.zeros(len(self.mean_names), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("counts", torch.zeros(len(self.mean_names), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("totals", torch.zeros(len(self.sum_names), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("maxima", torch.full((len(self.max_names),), -torch.inf, dtype=torch.float64),
                       dist_reduce_fx="max")

    def update(self, name: str, total: float, count: float = 1.0) -> None:
        if name not in self._mean_index:
            raise KeyError(f"running metric {name!r} is not among the declared ones {self.mean_names}")
        i = self._mean_index[name]
        self.sums[i] += _value(total)
        self.counts[i] += _value(count)

    def update_sum(self, name: str, value: float) -> None:
        self.totals[self._sum_index[name]] += _value(value)

    def update_max(self, name: str, value: float) -> None:
        i = self._max_index[name]
        self.maxima[i] = max(float(self.maxima[i]), float(value))

    def compute(self) -> dict[str, float]:
        out = {n: float(self.sums[i] / self.counts[i]) for n, i in self._mean_index.items() if self.counts[i] > 0}
        out.update({n: float(self.totals[i]) for n, i in self._sum_index.items()})
        out.update({n: float(self.maxima[i]) for n, i in self._max_index.items() if torch.isfinite(self.maxima[i])})
        return out
