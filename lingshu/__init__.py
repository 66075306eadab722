"""lingshu: rebuild and extend the Lingshu medical MLLM recipe with Hydra-composed steps."""

import math
from pathlib import Path

from omegaconf import OmegaConf

__version__ = "0.1.0"
ASSETS = Path(__file__).resolve().parent / "assets"

# `${lingshu.asset:tiny_tokenizer}` in configs: files shipped inside the package.
OmegaConf.register_new_resolver("lingshu.asset", lambda name: str(ASSETS / name), replace=True)
# `${lingshu.mul:${trainer.devices},${trainer.num_nodes}}`: e.g. the world size FSDP shards over.
OmegaConf.register_new_resolver("lingshu.mul", lambda *xs: math.prod(int(x) for x in xs), replace=True)
