"""compute(): one cell per canonical class, Ray tasks on a local loopback instance, a resumable store."""

from __future__ import annotations

import lzma
import sqlite3

import pytest

import ray

from surrogate_nas.errors import DataError, SurrogateNASError
from surrogate_nas.features import NB201_FEATURES, compute, read_features
from surrogate_nas.features.compute import compute_rows, representatives
from surrogate_nas.features.proxies import input_batch
from surrogate_nas.spaces import get_space


def test_one_representative_per_canonical_class():
    reps = representatives("nb201")
    space = get_space("nb201")
    assert len(reps) == 6466 and len({k for k, _ in reps}) == 6466
    assert all(space.canonical(space.parse(a)) == k for k, a in reps[:50])
    assert reps[0][1] == "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"  # enumeration order: first member
    with pytest.raises(SurrogateNASError, match="nb201 space only"):
        representatives("nas-bench-graph")


def _store_rows(path):
    with sqlite3.connect(path) as con:
        return {k: t for k, t in con.execute("SELECT key, finished_at FROM features")}


@pytest.mark.slow  # starts its own Ray instance twice (~20-40 s)
def test_compute_resumes_without_recomputing_finished_classes(tmp_path):
    store, out = tmp_path / "store.sqlite", tmp_path / "features.csv.xz"
    kw = dict(store=store, out=out, batch_size=4, workers=2, progress=False)
    assert compute("nb201", limit=3, **kw) == out  # the "killed" run: only 3 classes finished
    assert not ray.is_initialized()  # the Ray instance it started is shut down
    first = _store_rows(store)
    assert len(first) == 3

    compute("nb201", limit=20, **kw)  # 17 more, in two chunks of Ray tasks
    second = _store_rows(store)
    assert len(second) == 20
    assert all(second[k] == t for k, t in first.items())  # finished rows were not computed again

    frame, meta = read_features(out)
    assert len(frame) == 20 and list(frame.columns) == ["arch", *NB201_FEATURES]
    assert meta["batch_size"] == "4" and meta["seed"] == "0" and meta["dataset"].startswith("digits")
    assert meta["input_resolution"] == "3x32x32" and "limit=20" in meta["command"]
    assert lzma.decompress(out.read_bytes()).startswith(b"# what: ")
    # the Ray workers' values are the in-process ones (same seed, same batch)
    x, y, classes, _ = input_batch("digits", 4, 0)
    key = frame.index[5]
    (row,) = compute_rows([frame.loc[key, "arch"]], x, y, classes, seed=0)
    assert [row[f] for f in NB201_FEATURES] == pytest.approx(frame.loc[key, list(NB201_FEATURES)].tolist(), rel=1e-9)

    with pytest.raises(DataError, match="another configuration"):
        compute("nb201", limit=3, store=store, out=out, batch_size=4, seed=1, workers=2, progress=False)


def test_compute_checks_its_arguments(tmp_path):
    with pytest.raises(SurrogateNASError, match="limit must be a positive int"):
        compute("nb201", limit=0, store=tmp_path / "s.sqlite")
    with pytest.raises(SurrogateNASError, match="workers must be a positive int"):
        compute("nb201", workers=0, store=tmp_path / "s.sqlite")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SurrogateNASError, match="features table .*file is a file, not a directory"):
        compute("nb201", limit=1, store=tmp_path / "s2.sqlite", out=tmp_path / "file" / "f.csv.xz", batch_size=4)
    assert not (tmp_path / "s2.sqlite").exists()  # refused before the store is made or any network scored
    (tmp_path / "junk.sqlite").write_text("not a database")
    with pytest.raises(DataError, match="junk.sqlite is not a usable SQLite feature store"):
        compute("nb201", limit=1, store=tmp_path / "junk.sqlite", batch_size=4)
