"""Shared fixtures: real benchmark records from ../shared/data and the installed nas-bench-graph package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SURROGATE_NAS_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()
NB201_CSV = SHARED_DATA / "nb201" / "nats_bench.csv"

def load_experiment(name: str):
    """Import ``experiments/<name>.py`` (a script, not a package module) for a test to call its main()."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "experiments" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# Tests read the real records from ../shared/data through the documented override; nothing downloads.
os.environ["SURROGATE_NAS_DATA"] = str(SHARED_DATA)


@pytest.fixture(scope="session")
def nb201_table():
    if not NB201_CSV.is_file():
        pytest.fail(f"NB-201 records expected at {NB201_CSV} (set SURROGATE_NAS_SHARED_DATA)")
    from surrogate_nas.benchmarks import load_benchmark

    return load_benchmark("nb201")


@pytest.fixture(scope="session")
def nbg_table():
    from surrogate_nas.benchmarks import load_benchmark

    return load_benchmark("nas-bench-graph")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A private, writable data dir for tests that fetch or import."""
    d = tmp_path / "data"
    monkeypatch.setenv("SURROGATE_NAS_DATA", str(d))
    return d


@pytest.fixture
def unwritable_dir(tmp_path):
    """A directory this process cannot create files in (mode bits do not stop root: then /sys)."""
    import tempfile

    d = tmp_path / "read-only"
    d.mkdir()
    d.chmod(0o555)
    for cand in (d, Path("/sys")):
        try:
            with tempfile.TemporaryFile(dir=cand):
                pass
        except OSError:
            return cand
    pytest.fail("no unwritable directory available to test with")
