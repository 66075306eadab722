"""Helpers shared by the benchmark scripts (and the test that pins `deep_to_json` as the reference).

Standard library only at import: curation.py measures its own process's memory, so lightning is
imported only by `metrics_collector`, which the training benchmarks call."""

from __future__ import annotations

from dataclasses import asdict


def deep_to_json(self) -> dict:
    """`Sample.to_json` as it was before it went shallow: a deep copy through `dataclasses.asdict`."""
    d = asdict(self)
    d.pop("images")
    d["num_images"] = len(self.images)
    return d


def metrics_collector():
    """A Lightning callback whose `rows` gets the trainer's callback metrics after every batch."""
    import lightning as L

    class Collect(L.Callback):
        def __init__(self):
            self.rows = []

        def on_train_batch_end(self, trainer, *_):
            self.rows.append({k: float(v) for k, v in trainer.callback_metrics.items()})

    return Collect()
