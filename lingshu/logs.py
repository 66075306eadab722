"""Console hygiene for a run: each event once, no third-party tips, no bars for sub-second work.

Called once by the entry point after Hydra has configured logging (console + <run_dir>/launch.log).
"""

import logging
import warnings

# A progress bar appears only once work has run this long: sub-second steps print nothing.
PROGRESS_DELAY_S = 2.0
# Lines Lightning prints on every fit that say nothing about a lingshu run: an advert for its cloud
# products, and accelerators lingshu does not use (the GPU line stays).
NOT_ABOUT_THE_RUN = ("💡 Tip:", "TPU available:", "HPU available:")

# Warnings raised inside third-party code that a lingshu user cannot act on.
THIRD_PARTY_WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",  # Lightning's pytree helper on torch >= 2.10
)


class _ConsoleFormat(logging.Formatter):
    """`12:03:04 eval: demo 0.71` for INFO; level and logger name only where something went wrong.
    launch.log keeps Hydra's full format."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(message)s", datefmt="%H:%M:%S")
        self.loud = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return (self.loud if record.levelno >= logging.WARNING else super()).format(record)


class _DropNotAboutTheRun(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(NOT_ABOUT_THE_RUN)


def quiet() -> None:
    """Shorten the console format, route Lightning through Hydra's handlers only, drop adverts and unactionable warnings, and
    hide transformers' per-load/per-save progress bars (a tiny checkpoint loads in milliseconds)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if type(handler) is logging.StreamHandler:  # the console, not launch.log's FileHandler
            handler.setFormatter(_ConsoleFormat())
    if root.handlers:
        # `lightning` adds its own console handler at import and also propagates to the root
        # (Hydra's console + launch.log): every INFO line would print twice.
        import lightning  # noqa: F401  (its import is what installs the handler)

        for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                if type(handler) is logging.StreamHandler:
                    logger.removeHandler(handler)
            logger.propagate = True
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(_DropNotAboutTheRun())
    for message in THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
