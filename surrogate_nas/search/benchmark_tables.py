"""The benchmark tables a search reads: defaults per space/benchmark and a per-process cache."""

from __future__ import annotations

from typing import Any

from .base import SearchError

#: The default benchmark of a space.
DEFAULT_BENCHMARK = {"nb201": "nb201", "nas-bench-graph": "nas-bench-graph"}
#: Per built-in benchmark: (search metric, reported metric, cost metric). Any other benchmark (an
#: imported table) has no defaults: the metric must be set; the reported one defaults to it.
BENCHMARK_METRICS = {
    "nb201": ("test_acc", "test_acc", None),
    "nas-bench-graph": ("valid_perf", "test_perf", "latency"),
}

_TABLES: dict[str, Any] = {}


def cached_benchmark(name: str):
    """``load_benchmark(name)`` loaded once per process; an unknown name raises SearchError."""
    if name not in _TABLES:
        from ..benchmarks import load_benchmark

        try:
            _TABLES[name] = load_benchmark(name)
        except ValueError as e:
            raise SearchError(str(e)) from None
    return _TABLES[name]
