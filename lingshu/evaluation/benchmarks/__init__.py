"""One loader per benchmark; each is a `Benchmark` with `.name` and `.load() -> Iterator[BenchmarkItem]`."""

from lingshu.evaluation.benchmarks.base import Benchmark, BenchmarkPathError

__all__ = ["Benchmark", "BenchmarkPathError"]
