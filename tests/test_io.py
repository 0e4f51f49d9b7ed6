import os
import stat
from pathlib import Path

import pytest

from surrogate_nas.errors import SurrogateNASError
from surrogate_nas.io import atomic_dir, atomic_path, atomic_write_text, check_writable


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
