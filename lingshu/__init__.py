"""lingshu: rebuild and extend the Lingshu medical MLLM recipe with Hydra-composed steps."""

__version__ = "0.1.0"
