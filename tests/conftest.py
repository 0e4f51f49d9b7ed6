"""Shared fixtures: real benchmark records from the repo's data/ and the installed nas-bench-graph package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _nb201_csv() -> Path:
    """The repo's NB-201 records (data/nb201/nats_bench.csv.xz) as a plain CSV for tests that need a file,
    decompressed once per machine into the temp dir and checked against the published sha256."""
    import tempfile

    from surrogate_nas.benchmarks import cache

    sha = cache.remote_file("nb201").sha256
    dest = Path(tempfile.gettempdir()) / "surrogate_nas_tests" / sha[:16] / "nats_bench.csv"
    if not (dest.is_file() and cache.sha256_of(dest) == sha):
        data, _ = cache.read_verified("nb201")  # any verified copy: the same bytes as the repo's
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    return dest


NB201_CSV = _nb201_csv()



def _hermetic_data_dirs() -> None:
    """The tests read the repo's own data/: an empty data dir and user cache, removed at exit."""
    import atexit
    import shutil
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="surrogate_nas_test_data_"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["SURROGATE_NAS_DATA"] = str(home / "data")
    os.environ["XDG_CACHE_HOME"] = str(home / "cache")


_hermetic_data_dirs()


def load_experiment(name: str):
    """Import ``experiments/<name>.py`` (a script, not a package module) for a test to call its main()."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "experiments" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def nb201_table():
    from surrogate_nas.benchmarks import load_benchmark

    return load_benchmark("nb201")


@pytest.fixture(scope="session")
def nbg_table():
    from surrogate_nas.benchmarks import load_benchmark

    return load_benchmark("nas-bench-graph")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One torch thread: on a shared 2-core machine, torch's default of one thread per core makes the GNN's
    scatter kernels ~10x slower than a single thread. (Tests of thread handling set and restore their own.)"""
    import torch

    torch.set_num_threads(1)


# ---------------------------------------------------------------------- meta-trained checkpoints, built once
# Each is meta-trained once per session and shared by every test module that reads it; adapting never
# modifies a checkpoint's module (MetaGNNPredictor copies its parameters), so sharing cannot leak state.


@pytest.fixture(scope="session")
def tiny_ckpt(nb201_table):
    """A small meta-trained NB-201 checkpoint (sources cifar10, cifar100) for mechanics tests (~1 s)."""
    from surrogate_nas.meta.maml import MetaConfig
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors.gnn import ModelConfig

    return pretrain(nb201_table, ["cifar10", "cifar100"], "test_acc", ModelConfig(hidden=8, layers=1),
                    MetaConfig(iterations=4, val_every=2, meta_batch=2), benchmark_name="nb201", progress=False)


@pytest.fixture(scope="session")
def nb201_ckpt(nb201_table):
    """A MAML checkpoint meta-trained on NB-201's cifar10 and cifar100 long enough to rank ImageNet16-120
    (20 iterations, hidden 16): what tests of adaptation quality, checkpoint files and guided search read."""
    from surrogate_nas.meta.maml import MetaConfig
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors.gnn import ModelConfig

    return pretrain(nb201_table, ["cifar10", "cifar100"], "test_acc", ModelConfig(hidden=16, layers=2),
                    MetaConfig(iterations=20, val_every=10), benchmark_name="nb201", progress=False)


@pytest.fixture(scope="session")
def nb201_ckpt_dir(nb201_ckpt, tmp_path_factory):
    """:func:`nb201_ckpt` saved as a checkpoint directory (for run_search and the CLI)."""
    from surrogate_nas.meta.checkpoint import save_checkpoint

    return save_checkpoint(nb201_ckpt, tmp_path_factory.mktemp("ckpt") / "nb201")


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance on loopback (2 CPUs, no dashboard), shut down after the module. Ray is part of the
    README install (``.[test,ray]``): a missing Ray fails here, loudly."""
    import ray

    from surrogate_nas.raycluster import start, stop

    start(num_cpus=2)
    try:
        yield ray
    finally:
        stop()  # every process of the instance, the agents Ray leaves behind included


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
