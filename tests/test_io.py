import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from surrogate_nas.errors import SurrogateNASError
from surrogate_nas.io import ConfigStore, atomic_dir, atomic_path, atomic_write_text, check_writable, fingerprint


@pytest.fixture
def umask():
    """Set the process umask for a test and restore it after."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_files_and_dirs_get_the_users_umask_not_0600(tmp_path, umask, mask):
    umask(mask)
    atomic_write_text(tmp_path / "a.txt", "x")
    with atomic_dir(tmp_path / "d") as d:
        (d / "f").write_text("y")
    assert _mode(tmp_path / "a.txt") == 0o666 & ~mask
    assert _mode(tmp_path / "d") == 0o777 & ~mask


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_dir_replaces_as_a_unit_and_keeps_other_entries(tmp_path):
    d = tmp_path / "ckpt"
    with atomic_dir(d) as t:
        (t / "model.pt").write_text("old weights")
        (t / "config.json").write_text("old config")
    (d / "notes.txt").write_text("mine")
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(d) as t:
            (t / "model.pt").write_text("new weights")
            raise KeyboardInterrupt  # between the two files
    assert (d / "model.pt").read_text() == "old weights" and (d / "config.json").read_text() == "old config"
    with atomic_dir(d) as t:
        (t / "model.pt").write_text("new weights")
        (t / "config.json").write_text("new config")
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "model.pt", "notes.txt"]
    assert (d / "model.pt").read_text() == "new weights" and (d / "config.json").read_text() == "new config"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temp or old directories left


def test_atomic_dir_onto_a_file_is_refused_without_damage(tmp_path):
    f = tmp_path / "f"
    f.write_text("keep")
    with pytest.raises(OSError):
        with atomic_dir(f) as t:
            (t / "x").write_text("y")
    assert f.read_text() == "keep" and sorted(p.name for p in tmp_path.iterdir()) == ["f"]




def test_check_writable_names_the_problem(tmp_path, unwritable_dir):
    (tmp_path / "file").write_text("x")
    assert check_writable(tmp_path / "new" / "deeper" / "out.csv") == tmp_path / "new" / "deeper" / "out.csv"
    with pytest.raises(SurrogateNASError, match="is a directory; give a file name"):
        check_writable(tmp_path, "--out")
    with pytest.raises(SurrogateNASError, match="is an existing file, not a directory"):
        check_writable(tmp_path / "file", "--out", directory=True)
    with pytest.raises(SurrogateNASError, match="is a file, not a directory"):
        check_writable(tmp_path / "file" / "out.csv", "--out")
    ro = unwritable_dir
    with pytest.raises(SurrogateNASError, match="cannot write in"):
        check_writable(ro / "sub" / "out.csv", "--out")


# ---------------------------------------------------------------------- ConfigStore: the one resumable store
class _Store(ConfigStore):
    what = "widget store"
    tables = ("CREATE TABLE IF NOT EXISTS widgets (name TEXT PRIMARY KEY, size REAL)",)


def test_store_records_its_identity_and_refuses_another_in_one_line(tmp_path):
    path = tmp_path / "sub" / "w.sqlite"
    with _Store(path, {"seed": 1, "space": "nb201", "opts": {"a": 1}}, meta={"note": "first"}) as st:
        assert path.is_file()
        assert st.meta_text("note") == "first" and json.loads(st.meta_text("identity"))["seed"] == 1
        assert st.meta_text("fingerprint") == fingerprint({"opts": {"a": 1}, "space": "nb201", "seed": 1})
        st.execute("INSERT INTO widgets VALUES ('a', 1.0)")
    with _Store(path, {"space": "nb201", "seed": 1, "opts": {"a": 1}}, meta={"note": "second"}) as st:  # same
        assert st.execute("SELECT size FROM widgets").fetchall() == [(1.0,)]
        assert st.meta_text("note") == "first"  # meta rows are written when the store is made only
    with pytest.raises(SurrogateNASError) as e:
        _Store(path, {"seed": 2, "space": "nb201", "opts": {"a": 2}, "new": None})
    assert str(e.value) == (
        f"widget store {path} was made with another configuration "
        '(opts: {"a": 1} in the store, {"a": 2} now; seed: 1 in the store, 2 now); use another store'
    )
    with _Store(path) as st:  # no identity: nothing checked
        assert st.execute("SELECT COUNT(*) FROM widgets").fetchone() == (1,)


def test_store_refuses_junk_and_reads_without_creating(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database " * 50)
    with pytest.raises(SurrogateNASError, match=rf"^{junk} is not a usable SQLite widget store \(file is not a"):
        _Store(junk, {"seed": 1})
    with pytest.raises(SurrogateNASError, match="is not a usable SQLite widget store"):
        _Store(junk, create=False)
    with pytest.raises(SurrogateNASError, match="is not a usable SQLite widget store"):
        _Store(tmp_path, {"seed": 1})  # a directory
    missing = tmp_path / "no" / "such.sqlite"
    with pytest.raises(SurrogateNASError, match=f"^no widget store at {missing}$"):
        _Store(missing, {"seed": 1}, create=False)
    assert not (tmp_path / "no").exists()
    _Store(tmp_path / "w.sqlite", {"seed": 1}).close()
    with _Store(tmp_path / "w.sqlite", {"seed": 1}, create=False) as st:
        assert st.execute("SELECT COUNT(*) FROM widgets").fetchone() == (0,)
    with pytest.raises(SurrogateNASError, match=r"made with another configuration \(seed: 1 in the store, 2 now\)"):
        _Store(tmp_path / "w.sqlite", {"seed": 2}, create=False)
    fresh = tmp_path / "fresh.sqlite"
    sqlite3.connect(fresh).close()  # an empty SQLite file: a reader neither records an identity nor refuses
    with _Store(fresh, {"seed": 1}, create=False) as st:
        assert st.meta_text("fingerprint") is None


def test_store_is_durable_and_its_transactions_atomic(tmp_path):
    st = _Store(tmp_path / "w.sqlite", {"seed": 1})
    assert st.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert st.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    with pytest.raises(RuntimeError):
        with st.transaction() as con:
            con.execute("INSERT INTO widgets VALUES ('a', 1.0)")
            raise RuntimeError("killed mid-way")
    with st.transaction() as con:
        con.executemany("INSERT INTO widgets VALUES (?, ?)", [("b", 2.0), ("c", 3.0)])
    st.close()
    st.close()  # twice is harmless
    with pytest.raises(SurrogateNASError, match="is closed"):
        st.execute("SELECT 1")
    with sqlite3.connect(tmp_path / "w.sqlite") as con:  # another connection sees the committed rows only
        assert con.execute("SELECT name FROM widgets ORDER BY name").fetchall() == [("b",), ("c",)]


def test_store_reads_a_former_config_store(tmp_path):
    """The latency and feature stores of earlier versions kept the identity as one ``config`` row of JSON."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")
        old = json.dumps({"seed": 0, "shape": [3, 32]}, sort_keys=True)
        con.execute("INSERT INTO meta VALUES ('config', ?)", (old,))
    with _Store(path, {"shape": [3, 32], "seed": 0}) as st:
        st.execute("INSERT INTO widgets VALUES ('a', 1.0)")
    with pytest.raises(SurrogateNASError, match=r"\(seed: 0 in the store, 1 now\); use another store$"):
        _Store(path, {"shape": [3, 32], "seed": 1})
    with sqlite3.connect(path) as con:  # a fingerprint row without an identity: another version's
        con.execute("INSERT INTO meta VALUES ('fingerprint', 'abc')")
    with pytest.raises(SurrogateNASError, match=r"another configuration \(written by another version of surrogate"):
        _Store(path, {"shape": [3, 32], "seed": 0})
