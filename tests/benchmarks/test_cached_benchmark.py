"""One cache of benchmark tables per process: adaptation and search share it (issue #21)."""

from types import SimpleNamespace

import pandas as pd
import pytest

from surrogate_nas.benchmarks import cached_benchmark, import_table, readers
from surrogate_nas.errors import DataError
from surrogate_nas.meta import records
from surrogate_nas.search import benchmark_tables
from surrogate_nas.search.base import SearchError

NB = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"


def _counting(monkeypatch, reader: str) -> list:
    calls = []
    factory = readers.READERS.factory(reader)

    def counted(**kwargs):
        calls.append(kwargs)
        return factory(**kwargs)

    monkeypatch.setitem(readers.READERS._factories, reader, counted)
    monkeypatch.setattr(readers, "_CACHE", {})
    return calls


def test_nb201_is_parsed_once_across_adapt_and_search(monkeypatch):
    calls = _counting(monkeypatch, "nb201-csv")
    ckpt = SimpleNamespace(sources={"benchmark": "nb201"})
    a = records.benchmark_table(ckpt)
    b = benchmark_tables.cached_benchmark("nb201")
    c = cached_benchmark("nb201")
    assert a is b is c
    assert len(calls) == 1


def test_an_imported_table_is_read_again_after_a_reimport(tmp_path, data_dir, monkeypatch):
    monkeypatch.setattr(readers, "_CACHE", {})
    src = tmp_path / "dev.csv"
    pd.DataFrame({"arch": [NB], "pixel7": [3.1]}).to_csv(src, index=False)
    import_table(src, "nb201", metric="latency_ms")
    first = cached_benchmark("dev")
    assert cached_benchmark("dev") is first  # unchanged file: not parsed again
    pd.DataFrame({"arch": [NB], "pixel7": [4.2]}).to_csv(src, index=False)
    import_table(src, "nb201", metric="latency_ms")
    ckpt = SimpleNamespace(sources={"benchmark": "dev"})
    assert records.benchmark_table(ckpt).vector("pixel7", "latency_ms", [NB])[0] == 4.2
    assert benchmark_tables.cached_benchmark("dev") is records.benchmark_table(ckpt)


def test_unknown_benchmark_errors(monkeypatch, data_dir):
    monkeypatch.setattr(readers, "_CACHE", {})
    with pytest.raises(DataError, match="unknown benchmark"):
        cached_benchmark("no-such-table")
    with pytest.raises(SearchError, match="unknown benchmark"):
        benchmark_tables.cached_benchmark("no-such-table")
