"""lingshu.logs.quiet: each Lightning line once on the console, adverts and unused accelerators dropped,
launch.log intact. (The console of a whole pipeline run: tests/e2e/test_pipeline_smoke.py.)"""

import io
import logging

from lingshu.logs import quiet


def test_lightning_info_printed_once_without_lines_about_other_things(tmp_path):
    from lightning.pytorch.utilities import rank_zero_info

    root = logging.getLogger()
    saved = list(root.handlers), root.level
    console, file = io.StringIO(), tmp_path / "launch.log"
    root.handlers = [logging.StreamHandler(console), logging.FileHandler(file)]
    root.setLevel(logging.INFO)
    try:
        quiet()
        rank_zero_info("GPU available: False")
        rank_zero_info("💡 Tip: try our cloud")
        rank_zero_info("TPU available: False, using: 0 TPU cores")
        logging.getLogger("lingshu.x").warning("shard 3 unreadable")
    finally:
        for h in root.handlers:
            h.close()
        root.handlers, _ = saved
        root.setLevel(saved[1])
    lines = console.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["GPU available: False",
                                                         "WARNING lingshu.x: shard 3 unreadable"]
    assert "Tip" not in file.read_text() and "TPU" not in file.read_text()
    assert file.read_text().count("GPU available") == 1
