"""Inference latency of the NB-201 network per cell and setting: a resumable store and a wide CSV table.

A *setting* is (threads, batch, dtype, memory format), named ``t<threads>-b<batch>-<fp32|bf16>[-cl]``
(``-cl``: channels_last), e.g. ``t1-b1-fp32`` or ``t2-b32-bf16-cl``. :func:`measure` times the network of each
cell (NB-201 skeleton C=16, N=5, 10 classes, 3x32x32 inputs, seeded weights, eval mode, ``torch.inference_mode``)
under each setting: ``warmup`` untimed forwards, then the median of ``repeats`` timed ones, in ms per batch.
bf16 runs under ``torch.autocast("cpu", torch.bfloat16)``. Every finished cell is committed to a SQLite store
keyed by (cell, setting), so a killed run resumes; the table is written atomically at the end:
``arch,<setting1>,<setting2>,...``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..benchmarks.cache import config_store_path
from ..errors import DataError, SurrogateNASError
from ..io import ConfigStore, atomic_write_bytes
from ..spaces import get_space

__all__ = [
    "Setting",
    "parse_settings",
    "DEFAULT_SETTINGS",
    "default_repeats",
    "sample_cells",
    "time_forward",
    "measure",
    "LatencyStore",
    "INPUT_SHAPE",
    "NUM_CLASSES",
]

INPUT_SHAPE = (3, 32, 32)
NUM_CLASSES = 10
C, N = 16, 5
WARMUP = 1
_SCHEMA_VERSION = 1
#: The largest batch a latency setting may time (a batch of 4096 NB-201 inputs already takes ~50 MB of input and
#: several GB of activations).
MAX_BATCH = 4096
_NAME = re.compile(r"t([1-9][0-9]*)-b([1-9][0-9]*)-(fp32|bf16)(-cl)?")

#: The settings of the shipped table (data/latency/README.md says why these).
DEFAULT_SETTINGS = (
    "t1-b1-fp32",
    "t1-b1-bf16",
    "t1-b1-fp32-cl",
    "t1-b8-fp32",
    "t1-b32-fp32",
    "t1-b32-bf16",
    "t1-b32-fp32-cl",
)


@dataclass(frozen=True)
class Setting:
    """One measurement setting: intra-op threads, batch size, dtype (fp32|bf16), channels_last or not."""

    threads: int
    batch: int
    dtype: str = "fp32"
    channels_last: bool = False

    @property
    def name(self) -> str:
        return f"t{self.threads}-b{self.batch}-{self.dtype}" + ("-cl" if self.channels_last else "")

    @classmethod
    def parse(cls, name: str) -> Setting:
        m = _NAME.fullmatch(str(name).strip())
        if not m:
            raise SurrogateNASError(
                f"bad latency setting {name!r}: expected t<threads>-b<batch>-<fp32|bf16>[-cl], "
                "e.g. t1-b1-fp32 or t2-b32-bf16-cl"
            )
        threads, batch = int(m.group(1)), int(m.group(2))
        cpus = os.cpu_count() or 1
        if threads > cpus:
            raise SurrogateNASError(f"latency setting {name!r}: {threads} threads, but this machine has {cpus} CPUs")
        if batch > MAX_BATCH:
            raise SurrogateNASError(
                f"latency setting {name!r}: batch {batch} is above {MAX_BATCH} (its input alone would take "
                f"{batch * 3 * 32 * 32 * 4 / 2**30:.3g} GiB)"
            )
        return cls(threads, batch, m.group(3), bool(m.group(4)))


def parse_settings(names: str | Sequence[str]) -> list[Setting]:
    """Settings from names (a list, or one comma-separated string); refuses bad names, repeats and none."""
    items = [s.strip() for s in names.split(",")] if isinstance(names, str) else [str(s).strip() for s in names]
    if not items or any(not s for s in items):
        raise SurrogateNASError(f"settings: empty setting name in {names!r}")
    out = [Setting.parse(s) for s in items]
    seen = [s.name for s in out]
    dup = sorted({n for n in seen if seen.count(n) > 1})
    if dup:
        raise SurrogateNASError(f"settings: {', '.join(dup)} given twice")
    return out


def default_repeats(setting: Setting) -> int:
    """Timed forwards per (cell, setting) when not given: 5 at batch <= 8 (cheap, noisier), else 3."""
    return 5 if setting.batch <= 8 else 3


def sample_cells(n: int, seed: int = 0, space: str = "nb201") -> list[str]:
    """``n`` distinct canonical NB-201 classes, drawn without replacement (seeded), as the native string of each
    class's first cell in enumeration order; in drawn order."""
    from ..features.compute import representatives

    reps = representatives(space)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(reps):
        raise SurrogateNASError(
            f"sample size must be an integer from 1 to {len(reps)} (the canonical classes of {space}), got {n!r}"
        )
    idx = np.random.default_rng(seed).choice(len(reps), size=n, replace=False)
    return [reps[i][1] for i in idx]


@contextlib.contextmanager
def _threads(n: int):
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def time_forward(net, setting: Setting, repeats: int, warmup: int = WARMUP, seed: int = 0) -> list[float]:
    """The ms of each of ``repeats`` timed forwards of ``net`` (eval mode; left contiguous, fp32) under ``setting``."""
    import torch

    if repeats < 1 or warmup < 0:
        raise SurrogateNASError(f"repeats must be >= 1 and warmup >= 0, got {repeats!r}, {warmup!r}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((setting.batch, *INPUT_SHAPE), generator=gen)
    fmt = torch.channels_last if setting.channels_last else torch.contiguous_format
    x = x.contiguous(memory_format=fmt)
    net.to(memory_format=fmt)
    times = []
    try:
        with _threads(setting.threads), torch.inference_mode():
            for i in range(warmup + repeats):
                with (
                    torch.autocast("cpu", dtype=torch.bfloat16) if setting.dtype == "bf16" else contextlib.nullcontext()
                ):
                    t0 = time.perf_counter()
                    net(x)
                    dt = time.perf_counter() - t0
                if i >= warmup:
                    times.append(dt * 1000.0)
    finally:
        net.to(memory_format=torch.contiguous_format)
    return times


# ---------------------------------------------------------------------- the store
class LatencyStore(ConfigStore):
    """The resumable store of :func:`measure`: one row per (cell, setting), made for one configuration."""

    what = "latency store"
    error = DataError
    tables = (
        "CREATE TABLE IF NOT EXISTS latency (arch TEXT NOT NULL, setting TEXT NOT NULL, ms REAL NOT NULL, "
        "repeats INTEGER NOT NULL, times TEXT NOT NULL, finished_at REAL, PRIMARY KEY (arch, setting))",
    )

    def check_repeats(self, repeats: dict[str, int]) -> None:
        """A setting's repeats are fixed by its first rows in the store: a resumed run may not change them."""
        for name, r in self.execute("SELECT setting, MIN(repeats) FROM latency GROUP BY setting"):
            if name in repeats and repeats[name] != r:
                raise DataError(
                    f"latency store {self.path} holds setting {name} measured with {r} repeats; this run "
                    f"asks for {repeats[name]}: use the same repeats or another store"
                )


# ---------------------------------------------------------------------- the run
def measure(
    archs: Sequence[str],
    settings: Sequence[str | Setting],
    *,
    out: str | os.PathLike,
    store: str | os.PathLike | None = None,
    repeats: int | None = None,
    warmup: int = WARMUP,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Measure every (arch, setting) the store lacks, then write ``out``: ``arch,<setting>,...`` in ms per batch.

    ``archs``: native NB-201 strings (rows in this order). ``repeats``: timed forwards per measurement (default
    :func:`default_repeats` per setting). ``seed``: network weights and input batch. ``store``: the resumable
    SQLite store (default: per configuration, under the user cache). Returns ``out``.
    """
    sets = [s if isinstance(s, Setting) else Setting.parse(s) for s in settings]
    if not sets:
        raise SurrogateNASError("no latency settings given")
    if repeats is not None and (not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1):
        raise SurrogateNASError(f"repeats must be a positive int, got {repeats!r}")
    space = get_space("nb201")
    archs = [space.format(space.parse(str(a).strip())) for a in archs]
    if len(set(archs)) != len(archs):  # per string: isomorphic strings are different networks, both measured
        dup = next(a for i, a in enumerate(archs) if a in archs[:i])
        raise SurrogateNASError(f"archs: {dup!r} is listed twice (each string is measured once)")
    reps = {s.name: repeats or default_repeats(s) for s in sets}
    config = {
        "space": "nb201",
        "C": C,
        "N": N,
        "num_classes": NUM_CLASSES,
        "input_shape": list(INPUT_SHAPE),
        "seed": seed,
        "warmup": warmup,
        "schema": _SCHEMA_VERSION,
    }
    with LatencyStore(Path(store) if store is not None else config_store_path("latency", config), config) as st:
        st.check_repeats(reps)
        _measure_missing(st, archs, sets, reps, warmup, seed, progress)
        got = {(a, s): ms for a, s, ms in st.execute("SELECT arch, setting, ms FROM latency")}
    buf = io.StringIO()
    buf.write(",".join(["arch"] + [s.name for s in sets]) + "\n")
    for a in archs:
        buf.write(a + "," + ",".join(f"{got[(a, s.name)]:.4f}" for s in sets) + "\n")
    out = Path(out)
    atomic_write_bytes(out, buf.getvalue().encode())
    return out


def _measure_missing(
    store: LatencyStore, archs: list[str], sets: list[Setting], reps: dict[str, int], warmup: int, seed: int, progress
) -> None:
    """Time every (arch, setting) ``store`` lacks, committing each cell's rows in one transaction."""
    from tqdm.auto import tqdm

    from ..networks import build_network

    done = set(store.execute("SELECT arch, setting FROM latency"))
    todo = [a for a in archs if any((a, s.name) not in done for s in sets)]
    with tqdm(
        total=len(archs), initial=len(archs) - len(todo), desc="latency", unit="cell", disable=not progress
    ) as bar:
        for a in todo:
            net = build_network(a, num_classes=NUM_CLASSES, C=C, N=N, seed=seed).eval()
            rows = []
            for s in sets:
                if (a, s.name) not in done:
                    times = time_forward(net, s, reps[s.name], warmup, seed)
                    rounded = json.dumps([round(t, 4) for t in times])
                    rows.append((a, s.name, statistics.median(times), reps[s.name], rounded, time.time()))
            with store.transaction() as con:  # one transaction per cell
                con.executemany("INSERT OR REPLACE INTO latency VALUES (?, ?, ?, ?, ?, ?)", rows)
            bar.update(1)
