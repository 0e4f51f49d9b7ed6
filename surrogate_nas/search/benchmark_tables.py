"""The benchmark tables a search reads: defaults per space/benchmark, read through the one per-process cache."""

from __future__ import annotations

from .base import SearchError

#: The default benchmark of a space.
DEFAULT_BENCHMARK = {
    "nb201": "nb201",
    "nas-bench-graph": "nas-bench-graph",
    "nas-bench-graph-proteins": "nas-bench-graph-proteins",
}
#: Per built-in benchmark: (search metric, reported metric, cost metric). Any other benchmark (an
#: imported table) has no defaults: the metric must be set; the reported one defaults to it.
#: NB-201 follows the published protocol (NB-201 / NATS-Bench papers): the reward is the cheap 12-epoch
#: validation accuracy, the report the 200-epoch test accuracy of the chosen cell (``NAME@FIDELITY``, see
#: :meth:`~surrogate_nas.benchmarks.BenchmarkTable.series`); naming ``--metric test_acc`` searches the
#: 200-epoch test accuracy itself (a noise-free simulation, labelled as such).
BENCHMARK_METRICS = {
    "nb201": ("valid_acc@12", "test_acc@200", None),
    "nas-bench-graph": ("valid_perf", "test_perf", "latency"),
    "nas-bench-graph-proteins": ("valid_perf", "test_perf", "latency"),
}
#: Per built-in benchmark whose source tasks are read with another metric than the search's: the metric of
#: the other tasks (source-rank scores, source-reading predictors). NB-201: the other datasets' 200-epoch test
#: accuracy (what meta-training reads), whatever the target is searched on. Elsewhere: the search metric.
SOURCE_METRICS = {"nb201": "test_acc"}

#: How a report labels a search whose search metric is its reported metric.
NOISE_FREE = "noise-free simulation: search metric = test metric"


def cached_benchmark(name: str):
    """The benchmark ``name`` from the one per-process cache (:func:`surrogate_nas.benchmarks.cached_benchmark`);
    an unknown name raises SearchError."""
    from ..benchmarks import cached_benchmark as cached

    try:
        return cached(name)
    except ValueError as e:
        raise SearchError(str(e)) from None


def source_metric(benchmark: str | None, metric: str | None) -> str | None:
    """The metric a search's source tasks are read with (:data:`SOURCE_METRICS`, else the search metric)."""
    return SOURCE_METRICS.get(benchmark or "", metric) if metric is not None else None


def noise_free(table, task: str, metric: str | None, test_metric: str | None) -> bool:
    """Whether a search selects on its reported metric itself (``test_acc`` and ``test_acc@200`` on NB-201: the
    same records): the search sees the test values without noise, which no published protocol does."""
    if metric == test_metric:
        return True
    if table is None or metric is None or test_metric is None:
        return False
    try:
        a, b = table.series(task, metric), table.series(task, test_metric)
    except ValueError:
        return False
    return len(a) == len(b) and a.sort_index().equals(b.sort_index())
