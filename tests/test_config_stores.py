"""Every resumable store is one :class:`~surrogate_nas.io.ConfigStore`: the search journal, the experiment results
store, the latency and the feature store refuse another configuration, junk and a missing file alike (each with its
own error type), and still read the files earlier versions wrote."""

from __future__ import annotations

import importlib
import sqlite3

import pandas as pd
import pytest

from surrogate_nas.errors import DataError
from surrogate_nas.experiment.config import ExperimentError
from surrogate_nas.experiment.store import DB_NAME, ResultStore
from surrogate_nas.io import ConfigStore
from surrogate_nas.search import SearchConfig, SearchError, run_search
from surrogate_nas.search.journal import Journal
from surrogate_nas.training.latency import LatencyStore

FeatureStore = importlib.import_module("surrogate_nas.features.compute").FeatureStore


def _journal(path, identity, create=True):
    return Journal(path, identity, {"budget": 3})


def _results(path, identity, create=True):
    return ResultStore(path.parent, create=create, identity=identity)


# (opener(path, identity, create), file name, error type, what the messages call it, the file in a difference)
USERS = {
    "journal": (_journal, "journal.sqlite", SearchError, "journal", "journal"),
    "results": (_results, DB_NAME, ExperimentError, "results store", "store"),
    "latency": (lambda p, i, create=True: LatencyStore(p, i, create=create), "l.sqlite", DataError, "latency store",
                "store"),
    "features": (lambda p, i, create=True: FeatureStore(p, i, create=create), "f.sqlite", DataError, "feature store",
                 "store"),
}


@pytest.mark.parametrize("user", sorted(USERS))
def test_each_store_refuses_another_configuration_in_the_same_one_line_shape(tmp_path, user):
    opener, name, error, what, noun = USERS[user]
    path = tmp_path / name
    opener(path, {"seed": 1, "space": "nb201"}).close()
    opener(path, {"space": "nb201", "seed": 1}).close()  # the same configuration: resumed
    with pytest.raises(error) as e:
        opener(path, {"seed": 2, "space": "nb201"})
    msg = str(e.value)
    with opener(path, {"seed": 1, "space": "nb201"}) as st:  # the refusal left the store as it was
        assert isinstance(st, ConfigStore)
    assert "\n" not in msg and msg.startswith(f"{what} {path} was made with another ")
    assert f"configuration (seed: 1 in the {noun}, 2 now); " in msg


@pytest.mark.parametrize("user", sorted(USERS))
def test_each_store_refuses_junk(tmp_path, user):
    opener, name, error, what, _ = USERS[user]
    path = tmp_path / name
    path.write_text("a text file, not SQLite " * 40)
    with pytest.raises(error, match=rf"^{path} is not a usable SQLite {what} \(file is not a database\)$"):
        opener(path, {"seed": 1})
    assert path.read_text().startswith("a text file")  # left as it was


@pytest.mark.parametrize("user", ["results", "latency", "features"])
def test_a_reader_creates_no_file(tmp_path, user):
    opener, name, error, what, _ = USERS[user]
    path = tmp_path / "run" / name
    with pytest.raises(error, match=f"^no {what} at {path}"):
        opener(path, None, create=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("user", sorted(USERS))
def test_each_store_commits_durably(tmp_path, user):
    opener, name, *_ = USERS[user]
    with opener(tmp_path / name, {"seed": 1}) as st:
        assert st.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert st.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL: a commit is on disk when it returns


# ---------------------------------------------------------------------- files of earlier versions
# The statements the stores of earlier versions ran (copied from their code), to write their files by hand.
OLD_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evals (
    idx INTEGER PRIMARY KEY, batch INTEGER NOT NULL, batch_size INTEGER NOT NULL, arch TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE, value REAL, test REAL, cost REAL, status TEXT, error TEXT, timestamp REAL NOT NULL
);
"""
OLD_RESULTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (key TEXT PRIMARY KEY, coords TEXT NOT NULL, rows TEXT NOT NULL, info TEXT NOT NULL,
    seconds REAL NOT NULL, finished REAL NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (key TEXT PRIMARY KEY, info TEXT NOT NULL, finished REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _search(tmp_path, budget, name="run"):
    return run_search(SearchConfig(space="nb201", task="ImageNet16-120", strategy="evolution", budget=budget, seed=1,
                                   progress=False, out=str(tmp_path / name),
                                   options={"population": 5, "tournament": 2}))


def test_a_journal_of_the_former_layout_resumes(tmp_path):
    _search(tmp_path, 4, "new")
    new = sqlite3.connect(tmp_path / "new" / "journal.sqlite")
    meta = dict(new.execute("SELECT name, value FROM meta"))
    assert set(meta) == {"fingerprint", "identity", "config", "created"}  # the layout earlier versions read
    (tmp_path / "run").mkdir()
    old = sqlite3.connect(tmp_path / "run" / "journal.sqlite")  # rollback journal, the former statements
    old.executescript(OLD_JOURNAL_SCHEMA)
    old.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
    # the former evals columns (a journal now also has fidelity, which the former schema lacks)
    former = "idx, batch, batch_size, arch, key, value, test, cost, status, error, timestamp"
    old.executemany("INSERT INTO evals VALUES (?,?,?,?,?,?,?,?,?,?,?)", new.execute(f"SELECT {former} FROM evals"))
    old.commit()
    old.close()
    new.close()
    resumed = _search(tmp_path, 6)
    assert resumed.replayed == 4 and resumed.evaluations == 6
    assert resumed.trajectory["arch"].tolist() == _search(tmp_path, 6, "ref").trajectory["arch"].tolist()


def test_a_results_store_of_the_former_layout_is_read(tmp_path):
    with sqlite3.connect(tmp_path / DB_NAME) as con:
        con.executescript(OLD_RESULTS_SCHEMA)
        con.execute("INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?)",
                    ('{"k":5}', '{"k":5}', '[{"tau": 0.5}]', '{"pid": 1}', 2.0, 1.0))
        con.execute("INSERT INTO checkpoints VALUES ('ck', '{\"seconds\": 3}', 1.0)")
        con.execute("INSERT INTO meta VALUES ('wall_seconds', '7.5')")
    with ResultStore(tmp_path, create=False) as st:
        assert st.cells() == [{"coords": {"k": 5}, "rows": [{"tau": 0.5}], "info": {"pid": 1}, "seconds": 2.0}]
        assert st.checkpoints() == {"ck": {"seconds": 3}} and st.get_meta("wall_seconds") == 7.5
        pd.testing.assert_frame_equal(st.rows_frame(), pd.DataFrame([{"tau": 0.5}]))
    with ResultStore(tmp_path) as st:  # a run resumes it
        assert st.put_cell({"k": 6}, [], {}, 1.0) and not st.put_cell({"k": 5}, [], {}, 1.0) and st.count() == 2
