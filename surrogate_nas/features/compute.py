"""Computing the free NB-201 features: one representative cell per canonical class, Ray tasks, a resumable store.

(The zero-cost proxies are what a cell computes at initialisation, so one per class; ``params`` and ``flops``
belong to the string -- isomorphic cells can differ -- and :func:`compute_params_flops` counts them for every
string. The class table's ``params``/``flops`` are its representative's; readers use the per-string ones.)

:func:`compute` enumerates the space, keeps the first cell (in enumeration order) of every canonical class
(6,466 on NB-201), and computes :data:`FEATURES` for the classes the store does not hold yet, as Ray tasks of
:data:`CHUNK` cells each. Every finished chunk is committed to a SQLite store at once, so a killed run loses
at most the chunks in flight. At the end the whole table is written atomically as xz-compressed CSV, with
``# name: value`` metadata lines (dataset, batch, seed, resolution, versions, the command) above the header.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..benchmarks.cache import config_store_path
from ..errors import DataError, SurrogateNASError
from ..io import ConfigStore, atomic_write_bytes, check_writable
from ..spaces import get_space
from .proxies import INPUT_SHAPE, PROXIES, input_batch

__all__ = [
    "FEATURES",
    "CHUNK",
    "DEFAULT_BATCH_SIZE",
    "compute",
    "compute_rows",
    "representatives",
    "FeatureStore",
    "FLOP_CONVENTION",
    "compute_params_flops",
    "PER_STRING",
]

FEATURES = ("params", "flops") + PROXIES
#: Cells per Ray task: large enough that task overhead is small, small enough that a kill loses little.
CHUNK = 16
#: Images in the fixed batch. Measured (one thread, a 2-core machine with the other core busy): about 0.44 s
#: per cell at 16 images (~47 min for the 6,466 classes), 0.75 s at 32, 1.2 s at 64; see data/README.md.
DEFAULT_BATCH_SIZE = 16
#: NB-201 macro skeleton of the features (the benchmark's own).
C, N = 16, 5
FLOP_CONVENTION = "naslib"
_SCHEMA_VERSION = 1


def representatives(space: str = "nb201") -> list[tuple[str, str]]:
    """(canonical key, native string of its first cell in enumeration order) for every class of ``space``."""
    sp = get_space(space)
    if sp.name != "nb201":
        raise SurrogateNASError(f"free features are computed for the nb201 space only, not {sp.name!r}")
    seen: dict[str, str] = {}
    for a in sp.enumerate():
        seen.setdefault(sp.canonical(a), sp.format(a))
    return list(seen.items())


def compute_rows(archs: Sequence[str], x, y, num_classes: int, seed: int, threads: int | None = 1) -> list[dict]:
    """The features of each native NB-201 string (one freshly seeded network each), plus its seconds."""
    import torch

    from ..networks import build_network, count_flops, count_parameters
    from .proxies import zero_cost_proxies

    if threads is not None:
        torch.set_num_threads(threads)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    rows = []
    for a in archs:
        t0 = time.perf_counter()
        net = build_network(a, num_classes=num_classes, seed=seed)
        row = {
            "arch": a,
            "params": float(count_parameters(net)),
            "flops": float(count_flops(net, INPUT_SHAPE, convention=FLOP_CONVENTION)),
        }
        row.update(zero_cost_proxies(net, x, y))
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return rows


def _chunk_task(archs, x, y, num_classes, seed):
    return compute_rows(archs, x, y, num_classes, seed, threads=1)


# ---------------------------------------------------------------------- the store
class FeatureStore(ConfigStore):
    """The resumable store of :func:`compute`: one row per canonical class, made for one configuration."""

    what = "feature store"
    error = DataError
    refuse_hint = "use another store (or none, for the default one)"
    tables = (
        f"CREATE TABLE IF NOT EXISTS features (key TEXT PRIMARY KEY, arch TEXT NOT NULL, "
        f"{', '.join(f'{f} REAL' for f in FEATURES)}, seconds REAL, finished_at REAL)",
    )

    def save(self, keys: dict[str, str], rows: list[dict]) -> None:
        """Commit the rows of one chunk (one transaction); ``keys``: arch -> canonical key."""
        now = time.time()
        names = ("key", "arch") + FEATURES + ("seconds", "finished_at")
        with self.transaction() as con:
            con.executemany(
                f"INSERT OR REPLACE INTO features ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                [(keys[r["arch"]], r["arch"], *(_real(r[f]) for f in FEATURES), r["seconds"], now) for r in rows],
            )


def _real(v: float) -> float | None:
    return None if v is None or np.isnan(v) else float(v)  # NaN as NULL; SQLite keeps +-inf


# ---------------------------------------------------------------------- the run
def compute(
    space: str = "nb201",
    *,
    out: str | os.PathLike | None = None,
    store: str | os.PathLike | None = None,
    dataset: str = "digits",
    data_root: str | os.PathLike | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    address: str | None = None,
    workers: int | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> Path:
    """Compute :data:`FEATURES` for one cell per canonical class of ``space`` and write the table to ``out``.

    ``out``: the xz-compressed CSV to write (default: ``free_features.csv.xz`` next to the store).
    ``store``: the resumable SQLite store (default: per configuration, under the user cache); classes it
    holds are not computed again. ``dataset``/``data_root``/``batch_size``/``seed``: the fixed batch
    (:func:`~surrogate_nas.features.proxies.input_batch`); ``seed`` also seeds every network's weights.
    ``address``: an existing Ray cluster (``"auto"``, ``"ray://host:port"``); default a local instance with
    ``workers`` CPUs on the loopback interface (a Ray instance already initialised in this process is used as
    is). ``limit``: only the first ``limit`` classes (tests, trials). Returns ``out``.
    """
    _check_run_args(limit, workers, seed)
    x, y, num_classes, data_label = input_batch(dataset, batch_size, seed, data_root)
    reps = representatives(space)
    n_classes = len(reps)
    if limit is not None:
        reps = reps[:limit]
    config = _store_config(space, data_label, batch_size, seed, num_classes, x, y)
    store_path = Path(store) if store is not None else config_store_path("features", config)
    out_path = Path(out) if out is not None else store_path.with_name(store_path.stem + "-free_features.csv.xz")
    check_writable(out_path, "features table")  # before any network is scored, not after
    with FeatureStore(store_path, config) as st:
        rows = _complete(st, reps, x.numpy(), y.numpy(), num_classes, seed, address, workers, progress)
    seconds = [r[-1] for r in rows if r[-1] is not None]
    meta = {
        "what": f"free architecture features of the {config['space']} space, one row per canonical class "
        f"({len(rows)} of {n_classes} classes); see surrogate_nas/features/proxies.py",
        "dataset": data_label,
        "batch_size": batch_size,
        "seed": seed,
        "input_resolution": "x".join(map(str, INPUT_SHAPE)),
        "network": f"NB-201 C={C} N={N}, {num_classes} classes",
        "flops_convention": FLOP_CONVENTION,
        "grad_norm": "sum of per-layer L2 norms (conv/linear weights)",
        "jacob_cov_k": "1e-05",
        "synflow": "float64, |weights|, all-ones input, BN in eval mode",
        "seconds_per_cell_mean": f"{np.mean(seconds):.4f}" if seconds else "nan",
        **_versions(),
        "command": _command(space, out, store, dataset, data_root, batch_size, seed, address, workers, limit),
    }
    _write_table(out_path, meta, rows)
    return out_path


def _complete(
    store: FeatureStore, reps: list[tuple[str, str]], x, y, num_classes, seed, address, workers, progress
) -> list[tuple]:
    """The stored rows of ``reps`` (key, arch, features..., seconds; by key), computing those ``store`` lacks."""
    done = {k for (k,) in store.execute("SELECT key FROM features")}
    todo = [(k, a) for k, a in reps if k not in done]
    if todo:
        run = (x, y, num_classes, seed, address, workers, progress)
        _run_ray(store, todo, *run, total=len(reps), initial=len(reps) - len(todo))
    rows = store.execute(f"SELECT key, arch, {', '.join(FEATURES)}, seconds FROM features").fetchall()
    wanted = {k for k, _ in reps}
    return sorted((r for r in rows if r[0] in wanted), key=lambda r: r[0])


def _check_run_args(limit, workers, seed) -> None:
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise SurrogateNASError(f"limit must be a positive int, got {limit!r}")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise SurrogateNASError(f"workers must be a positive int, got {workers!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise SurrogateNASError(f"seed must be an int, got {seed!r}")


def _store_config(space: str, data_label: str, batch_size: int, seed: int, num_classes: int, x, y) -> dict[str, Any]:
    """What the feature store is made for: everything that decides a stored row (the batch by its sha256)."""
    return {
        "space": get_space(space).name,
        "dataset": data_label,
        "batch_size": batch_size,
        "seed": seed,
        "input_shape": list(INPUT_SHAPE),
        "C": C,
        "N": N,
        "num_classes": num_classes,
        "flops": FLOP_CONVENTION,
        "schema": _SCHEMA_VERSION,
        "batch_sha256": hashlib.sha256(x.numpy().tobytes() + y.numpy().tobytes()).hexdigest()[:16],
    }


def _versions() -> dict[str, str]:
    import torch

    from .. import __version__

    return {
        "surrogate_nas_version": __version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
    }


def _command(space, out, store, dataset, data_root, batch_size, seed, address, workers, limit) -> str:
    args = {
        "out": str(out) if out is not None else None,
        "store": str(store) if store is not None else None,
        "dataset": str(dataset),
        "data_root": str(data_root) if data_root is not None else None,
        "batch_size": batch_size,
        "seed": seed,
        "address": address,
        "workers": workers,
        "limit": limit,
    }
    call = ", ".join([repr(space)] + [f"{k}={v!r}" for k, v in args.items() if v is not None])
    argv = " ".join(shlex.quote(a) for a in sys.argv) if sys.argv and sys.argv[0] not in ("-c", "") else ""
    return f"surrogate_nas.features.compute({call})" + (f"  [argv: {argv}]" if argv else "")


def _write_table(path: Path, meta: dict[str, object], rows: list[tuple]) -> None:
    buf = io.StringIO()
    for k, v in meta.items():
        buf.write(f"# {k}: {str(v).replace(chr(10), ' ')}\n")
    buf.write(",".join(("key", "arch") + FEATURES) + "\n")
    for r in rows:
        vals = [repr(float(v)) if v is not None else "" for v in r[2 : 2 + len(FEATURES)]]
        buf.write(f"{r[0]},{r[1]},{','.join(vals)}\n")
    atomic_write_bytes(path, lzma.compress(buf.getvalue().encode(), preset=9 | lzma.PRESET_EXTREME))


def _run_ray(store: FeatureStore, todo, x, y, num_classes, seed, address, workers, progress, total, initial) -> None:
    from ..raycluster import fan_out, remote, session

    with session(address, workers, what="computing features") as ray:
        keys = {a: k for k, a in todo}
        chunks = [[a for _, a in todo[i : i + CHUNK]] for i in range(0, len(todo), CHUNK)]
        task = remote(_chunk_task, max_retries=2)
        x_ref, y_ref = ray.put(x), ray.put(y)
        failures = fan_out(
            chunks,
            lambda c: task.remote(c, x_ref, y_ref, num_classes, seed),
            lambda c, rows: store.save(keys, rows),
            units=len,
            desc="free features",
            unit="arch",
            total=total,
            initial=initial,
            progress=progress,
        )
    if failures:  # the finished chunks are stored: a rerun computes the rest
        raise SurrogateNASError(
            f"computing features: {len(failures)} chunk(s) of {CHUNK} failed (the rest is stored; run again to "
            f"retry); first: {failures[0].error}"
        )


# ---------------------------------------------------------------------- per-string params / FLOPs
#: Columns of the per-string table :func:`compute_params_flops` writes (``data/nb201/params_flops.csv.xz``).
PER_STRING = ("params", "flops")


def compute_params_flops(
    space: str = "nb201", *, out: str | os.PathLike, num_classes: int = 10, progress: bool = True
) -> Path:
    """``params`` and ``flops`` of the network of **every string** of ``space`` (NB-201: all 15,625 cells).

    A string is a network: isomorphic cells (one canonical key) compute the same function but can differ in
    parameters and FLOPs (an ``avg_pool_3x3`` on one edge and a ``nor_conv_1x1`` on an equivalent edge), so
    these two hardware numbers are computed per string, unlike the zero-cost proxies (one per canonical class,
    :func:`compute`). Each string's network (C=16, N=5, ``num_classes`` classes, the same skeleton as
    :func:`compute`) is built and counted with :func:`~surrogate_nas.networks.count_parameters` and
    :func:`~surrogate_nas.networks.count_flops` (convention :data:`FLOP_CONVENTION`, input 3x32x32). Rows are in
    ``space.enumerate()`` order, columns ``arch, key, params, flops`` with ``# name: value`` metadata lines
    above the header; written xz-compressed and atomically to ``out``. Returns ``out``.
    """
    sp = get_space(space)
    if sp.name != "nb201":
        raise SurrogateNASError(f"per-string params/FLOPs are computed for the nb201 space only, not {sp.name!r}")
    archs = sp.enumerate()
    t0 = time.perf_counter()
    rows = _count_every_string(sp, archs, num_classes, progress)
    meta = {
        "what": f"params and FLOPs of the network of every {sp.name} string ({len(rows)} strings), one row per "
        "string in space.enumerate() order; isomorphic strings can differ",
        "network": f"NB-201 C={C} N={N}, {num_classes} classes",
        "input_resolution": "x".join(map(str, INPUT_SHAPE)),
        "params": "surrogate_nas.networks.count_parameters (every parameter, BN affine included)",
        "flops_convention": FLOP_CONVENTION,
        "seconds_total": f"{time.perf_counter() - t0:.1f}",
        **_versions(),
        "command": f"surrogate_nas.features.compute.compute_params_flops({space!r}, out={str(out)!r}, "
        f"num_classes={num_classes})",
    }
    buf = io.StringIO()
    for k, v in meta.items():
        buf.write(f"# {k}: {str(v).replace(chr(10), ' ')}\n")
    buf.write("arch,key,params,flops\n")
    for s, k, p, f in rows:
        buf.write(f"{s},{k},{int(p)},{int(f)}\n")
    out = Path(out)
    atomic_write_bytes(out, lzma.compress(buf.getvalue().encode(), preset=9 | lzma.PRESET_EXTREME))
    return out


def _count_every_string(sp, archs, num_classes: int, progress: bool) -> list[tuple]:
    """(string, canonical key, params, FLOPs) of each of ``archs`` (architectures of ``sp``), on one thread."""
    from tqdm.auto import tqdm

    from ..networks import build_network, count_flops, count_parameters

    rows = []
    with _one_thread():
        for a in tqdm(archs, desc="params/flops", unit="arch", disable=not progress):
            net = build_network(a, num_classes=num_classes, C=C, N=N)
            flops = count_flops(net, INPUT_SHAPE, convention=FLOP_CONVENTION)
            rows.append((sp.format(a), sp.canonical(a), count_parameters(net), flops))
    return rows


class _one_thread:
    def __enter__(self):
        import torch

        self.old = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.old)
