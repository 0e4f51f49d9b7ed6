"""Benchmark records: ``BenchmarkTable``, readers by name, the data cache, the target-isolation guard."""

from .isolation import TargetLeakError, check_isolation
from .kinds import is_hardware_metric, metric_kind
from .readers import READERS, SOURCES, cached_benchmark, import_table, imported_tables, load_benchmark
from .table import BenchmarkTable

__all__ = [
    "BenchmarkTable",
    "READERS",
    "SOURCES",
    "load_benchmark",
    "cached_benchmark",
    "import_table",
    "imported_tables",
    "TargetLeakError",
    "check_isolation",
    "is_hardware_metric",
    "metric_kind",
]
