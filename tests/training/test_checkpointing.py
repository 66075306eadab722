"""last.ckpt is put in place only once the metrics of the step it holds are in metrics.csv, so a
kill at any moment resumes with every earlier row on disk (the SIGKILL tests in tests/e2e hit this
window only sometimes; this one checks the order at every save)."""

import csv

import lightning as L
import pytest
import torch

from lingshu.training import checkpointing
from lingshu.training.checkpointing import AtomicCheckpointIO, last_checkpoint
from lingshu.training.metrics_log import HistoryCSVLogger


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch).pow(2).mean()
        self.log("train/loss", loss, on_step=True, on_epoch=False)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.randn(8, 2), batch_size=1)


# (steps, checkpoint every, global step of each save): with no save during training Lightning saves
# last.ckpt at the end (save_last)
@pytest.mark.parametrize("max_steps,every,saves", [(6, 2, [2, 4, 6]), (3, 10, [3])])
def test_a_checkpoint_appears_only_after_its_steps_metrics_are_written(tmp_path, monkeypatch, max_steps, every, saves):
    seen = []  # (checkpoint, steps in metrics.csv) at each rename into place
    real = checkpointing.os.replace

    def replace(src, dst):
        if str(dst).endswith("last.ckpt"):
            with open(tmp_path / "metrics.csv", newline="") as f:
                seen.append((torch.load(src, weights_only=False)["global_step"],
                             sorted(int(r["step"]) for r in csv.DictReader(f) if r.get("train/loss"))))
        real(src, dst)

    monkeypatch.setattr(checkpointing.os, "replace", replace)
    trainer = L.Trainer(accelerator="cpu", max_steps=max_steps, logger=HistoryCSVLogger(tmp_path, keep_history=False),
                        callbacks=[last_checkpoint(tmp_path / "checkpoints", every)], plugins=[AtomicCheckpointIO()],
                        log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Tiny())
    # after optimizer step n (global_step n) the rows of steps 0 .. n-1 are on disk
    assert seen == [(n, list(range(n))) for n in saves]
    assert (tmp_path / "checkpoints" / "last.ckpt").exists()
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))
