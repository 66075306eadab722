"""lingshu's one entry: compose the config, validate it, run exactly one task.

    python launch.py                                  # the demo pipeline
    python launch.py task=train stage=deep_alignment  # one step
    python launch.py -m stage=shallow_alignment,deep_alignment task=train   # a sweep
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    from lingshu.logs import quiet
    from lingshu.tasks import dispatch

    quiet()
    return dispatch(cfg)


if __name__ == "__main__":
    main()
