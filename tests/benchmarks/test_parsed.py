"""Parsed architecture strings kept across processes (surrogate_nas.benchmarks.parsed): reading the shipped NB-201
records in a new process parses no string again, reading NAS-Bench-Graph's maps no record key through the space's
enumeration again, and both give the same table."""

import json

import numpy as np
import pytest

from surrogate_nas.benchmarks import parsed, readers
from surrogate_nas.benchmarks.readers import read_nas_bench_graph, read_nb201_csv
from surrogate_nas.spaces import get_space


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A new process's state: no memo in memory, an empty cache folder of its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _new_process(monkeypatch)
    return tmp_path


def _count_calls(monkeypatch, space: str, method: str) -> list:
    """The arguments of every call of ``method`` of ``space``'s class, as they come."""
    cls = type(get_space(space))
    calls = []
    real = getattr(cls, method)
    monkeypatch.setattr(cls, method, lambda self, arg: calls.append(arg) or real(self, arg))
    return calls


def _count_parses(monkeypatch) -> list:
    return _count_calls(monkeypatch, "nb201", "_parse")


def _new_process(monkeypatch):
    for name in ("_MEMOS", "_SAVED"):
        monkeypatch.setattr(parsed, name, {})
    monkeypatch.setattr(readers, "_NBG_COLUMNS", {})  # the reader's own per-process columns


def test_a_new_process_reads_the_records_without_parsing_and_gets_the_same_table(fresh, monkeypatch, nb201_table):
    space = get_space("nb201")
    calls = _count_parses(monkeypatch)
    first = read_nb201_csv()
    assert len(calls) == 15625  # every cell parsed once, then kept
    path = parsed.cache_path(space)
    assert path.is_file() and path.parent == fresh / "cache" / "surrogate_nas" / "parsed"
    _new_process(monkeypatch)
    calls.clear()
    second = read_nb201_csv()
    assert calls == []
    for table in (first, second):
        assert table.frame[["arch", "key"]].equals(nb201_table.frame[["arch", "key"]])
    entries = json.loads(path.read_text())
    for s in np.random.default_rng(0).choice(list(entries), 50, replace=False):  # what the file holds is the parse
        arch = space.parse(s)
        assert entries[s] == [space.format(arch), space.canonical(arch)]


@pytest.mark.parametrize("content", ["{not json", json.dumps({"a": ["only one"]}), json.dumps([1, 2])])
def test_an_unreadable_memo_file_is_ignored_and_rewritten(fresh, monkeypatch, nb201_table, content):
    space = get_space("nb201")
    path = parsed.cache_path(space)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    calls = _count_parses(monkeypatch)
    table = read_nb201_csv()
    assert len(calls) == 15625 and table.frame[["arch", "key"]].equals(nb201_table.frame[["arch", "key"]])
    assert len(json.loads(path.read_text())) == 15625


def test_a_cache_folder_that_cannot_be_written_leaves_the_memo_in_the_process(fresh, monkeypatch, nb201_table):
    blocker = fresh / "cache"
    blocker.write_text("a file where the cache folder would be")  # mkdir under it fails
    table = read_nb201_csv()
    assert table.frame[["arch", "key"]].equals(nb201_table.frame[["arch", "key"]])
    assert len(parsed.parsed_cells(get_space("nb201"))) == 15625


def _count_key_lookups(monkeypatch) -> list:
    return _count_calls(monkeypatch, "nas-bench-graph", "from_key")


def test_a_new_process_reads_nas_bench_graph_without_mapping_its_keys_again(fresh, monkeypatch):
    space = get_space("nas-bench-graph")
    calls = _count_key_lookups(monkeypatch)
    first = read_nas_bench_graph(("cora", "pubmed"))
    assert len(calls) == 26206  # each key once: the two datasets hold the same architectures
    path = parsed.cache_path(space, "keys")
    assert path.is_file() and path.parent == fresh / "cache" / "surrogate_nas" / "parsed"
    _new_process(monkeypatch)
    calls.clear()
    second = read_nas_bench_graph(("cora", "pubmed"))
    assert calls == [] and second.frame.equals(first.frame)
    entries = json.loads(path.read_text())
    for k in np.random.default_rng(0).choice(list(entries), 50, replace=False):  # what the file holds is the mapping
        assert entries[k] == space.format(space.from_key(k))


def test_the_key_memo_is_named_by_the_package_that_decides_the_keys(monkeypatch):
    space = get_space("nas-bench-graph")
    before = parsed.cache_path(space, "keys")
    real = parsed.metadata.version
    monkeypatch.setattr(parsed.metadata, "version", lambda p: "0.0-other" if p == "nas-bench-graph" else real(p))
    assert parsed.cache_path(space, "keys") != before
    assert parsed.cache_path(get_space("nb201")) == parsed.cache_path(get_space("nb201"))  # names none: unchanged


@pytest.mark.parametrize("content", ["{not json", json.dumps({"1": 2}), json.dumps(["a"])])
def test_an_unreadable_key_memo_is_ignored_and_rewritten(fresh, monkeypatch, content):
    space = get_space("nas-bench-graph")
    path = parsed.cache_path(space, "keys")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    calls = _count_key_lookups(monkeypatch)
    read_nas_bench_graph(("cora",))
    assert len(calls) == 26206 and len(json.loads(path.read_text())) == 26206
