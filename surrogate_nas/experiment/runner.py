"""Run an experiment grid as Ray tasks (or in process), resumable from its run directory.

Layout of a run directory ``DIR``::

    DIR/config.yaml              the experiment config (a rerun with another config is refused)
    DIR/experiment.sqlite        the result store: one row per finished cell (WAL)
    DIR/checkpoints/BENCH/TARGET/ALGO[-ff]-seedS/ one meta-trained checkpoint each (model.pt + config.json)
    DIR/predictor_quality.{csv,md,png} or DIR/search_efficiency.{csv,md,png}   the report

Meta-training is shared: each checkpoint is trained once, as its own task, and the cells that adapt
it depend on it (Ray schedules them when it exists); cells that need none run meanwhile. Only the
driver writes the store and the checkpoint directories, so the workers need no shared disk: a
checkpoint travels as its two files' bytes (the sha256 in ``config.json`` is checked on every load,
weights read with ``weights_only=True``). Tables are loaded once per worker process, never shipped.
"""

from __future__ import annotations

import heapq
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..io import atomic_dir, atomic_write_text
from .config import ExperimentError, check_records, config_dict, config_from_dict, config_yaml, differences
from .store import ResultStore, cell_key

CONFIG_NAME = "config.yaml"


@dataclass(frozen=True)
class CheckpointSpec:
    """One meta-training run: (benchmark, target, algorithm, meta seed)."""

    benchmark: str
    target: str
    algorithm: str
    seed: int
    metric: str
    train_tasks: tuple[str, ...] | None  # None: every task of the table but the target
    meta: tuple  # MetaConfig fields (sorted items)
    model: tuple  # ModelConfig fields (sorted items)
    features: bool = False  # every task reads its free features (all available ones)
    variant: str = ""  # names the checkpoint instead of the algorithm (other meta overrides)

    @property
    def key(self) -> str:
        name = self.variant or self.algorithm
        return f"{self.benchmark}/{self.target}/{name}{'-ff' if self.features else ''}-seed{self.seed}"


@dataclass
class Cell:
    """One task of the grid: ``coords`` are its key in the store; ``checkpoints`` {name: spec key}."""

    coords: dict
    checkpoints: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return cell_key(self.coords)


def _items(d: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in d.items()))


# ---------------------------------------------------------------------- the two grids
def plan(cfg) -> tuple[list[CheckpointSpec], list[Cell]]:
    """Every checkpoint and every cell of the grid, in the order the old scripts ran them."""
    if cfg.kind == "predictor-quality":
        return _plan_predictor_quality(cfg)
    return _plan_search_efficiency(cfg)


def _plan_predictor_quality(cfg) -> tuple[list[CheckpointSpec], list[Cell]]:
    """One checkpoint per member of each predictor group and target; one cell per target, K, seed and group."""
    from .predictor_quality import group_of, member_names

    groups = list(dict.fromkeys(group_of(m) for m in cfg.methods))
    specs: dict[str, CheckpointSpec] = {}
    cells: list[Cell] = []
    for b in cfg.benchmarks:
        for target in b.targets:
            names = {}  # member name -> checkpoint key
            for g in groups:
                if g != "baselines":
                    for name, s in _member_checkpoints(cfg, b, target, g):
                        specs[s.key] = s
                        names[name] = s.key
            for k in cfg.ks:
                for seed in range(cfg.seeds):
                    for g in groups:
                        coords = {"benchmark": b.name, "target": target, "k": k, "seed": seed, "group": g}
                        cells.append(Cell(coords, {n: names[n] for n in member_names(g)} if g != "baselines" else {}))
    # baselines first within the list: they need nothing and run while the checkpoints train
    return list(specs.values()), cells


def _member_checkpoints(cfg, b, target: str, group: str) -> list[tuple[str, CheckpointSpec]]:
    """(member name, checkpoint) of each member of a predictor group on ``target``: member i meta-trains with
    the group's meta settings and meta seed ``seed + i``. The deep-kernel groups start from the default's settings
    for the benchmark's metric (:func:`~surrogate_nas.meta.defaults.default_meta`), the group's own over them. The
    default's own keys (those of DEFAULT_META: algorithm, target scale, meta-validation, top weight) keep the metric's
    values over the config's ``meta`` (which sets the MAML groups'); the config's ``meta`` may change the rest (a
    hardware metric's kernel)."""
    from ..meta.defaults import DEFAULT_META, default_meta
    from .predictor_quality import ALGORITHMS, member_names

    overrides, ff, _, variant = ALGORITHMS[group]
    base = default_meta(b.metric) if overrides.get("algorithm") == "dkt" else {}
    own = {k: v for k, v in base.items() if k in DEFAULT_META}
    m = {**base, **dict(cfg.meta), **own, **overrides}
    m.setdefault("algorithm", "maml")
    out = []
    for i, name in enumerate(member_names(group)):
        seed = int(m.get("seed", 0)) + i
        s = CheckpointSpec(
            b.name,
            target,
            m["algorithm"],
            seed,
            b.metric,
            None,
            _items({**m, "seed": seed}),
            _items(cfg.model),
            ff,
            variant,
        )
        out.append((name, s))
    return out


def _plan_search_efficiency(cfg) -> tuple[list[CheckpointSpec], list[Cell]]:
    """``checkpoints`` meta-trained checkpoints per target; one cell per target, method and seed (a ``meta``
    method's seed s adapts checkpoint s mod checkpoints). Checkpoints no cell uses are left out."""
    from .search_efficiency import method_specs

    specs: dict[str, CheckpointSpec] = {}
    cells: list[Cell] = []
    for b in cfg.benchmarks:
        for target in b.targets:
            keys = []
            for s in _target_checkpoints(b, target):
                specs[s.key] = s
                keys.append(s.key)
            for m in method_specs(b.name, b.budget, b.guided_budget, target, cfg.variants):
                if cfg.methods is not None and m.name not in cfg.methods:
                    continue
                seeds = range(b.seeds if m.predictor is None or b.guided_seeds is None else b.guided_seeds)
                for seed in seeds:
                    coords = {"benchmark": b.name, "target": target, "method": m.name, "seed": seed}
                    cells.append(Cell(coords, {"model": keys[seed % len(keys)]} if m.predictor == "meta" else {}))
    used = {k for c in cells for k in c.checkpoints.values()}
    return [s for s in specs.values() if s.key in used], cells


def _target_checkpoints(b, target: str) -> list[CheckpointSpec]:
    """A search-efficiency benchmark's ``checkpoints`` meta-training runs for ``target`` (meta seeds from the
    benchmark's ``meta.seed`` on)."""
    meta = dict(b.meta)
    base_seed = int(meta.get("seed", 0))
    return [
        CheckpointSpec(
            b.name,
            target,
            meta.get("algorithm", "maml"),
            base_seed + i,
            _source_metric(b),
            tuple(b.train_tasks) if b.train_tasks else None,
            _items({**meta, "seed": base_seed + i}),
            _items(b.model),
        )
        for i in range(b.checkpoints)
    ]


def _source_metric(b) -> str:
    """What a search-efficiency benchmark's meta-training and source tasks read (NB-201: the 200-epoch test_acc)."""
    from ..search.benchmark_tables import source_metric

    return b.source_metric or source_metric(b.name, b.metric) or b.metric


# ---------------------------------------------------------------------- worker side
_CKPT_CACHE: dict[str, object] = {}


def _threads(n: int = 1) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _meta_kwargs(spec: CheckpointSpec) -> dict[str, Any]:
    """The spec's MetaConfig keyword arguments (its ``meta`` items; ``support_range`` back to a tuple)."""
    return {k: (tuple(v) if k == "support_range" else v) for k, v in spec.meta}


def train_checkpoint(spec: CheckpointSpec, threads: int = 1) -> tuple[dict, dict]:
    """Meta-train one checkpoint: (its files' bytes, timing info); the driver writes the files to DIR."""
    _threads(threads)
    from ..features import available_features
    from ..meta.checkpoint import save_checkpoint
    from ..meta.maml import MetaConfig
    from ..meta.pretrain import pretrain
    from ..predictors.gnn import ModelConfig
    from ..search.benchmark_tables import cached_benchmark

    table = cached_benchmark(spec.benchmark)
    train = list(spec.train_tasks) if spec.train_tasks else [t for t in table.tasks if t != spec.target]
    meta = _meta_kwargs(spec)
    started, t0, c0 = time.time(), time.perf_counter(), time.process_time()
    features = available_features(table, spec.target, spec.metric) if spec.features else ()
    ckpt = pretrain(
        table,
        train,
        spec.metric,
        ModelConfig(**dict(spec.model)),
        MetaConfig(**meta),
        benchmark_name=spec.benchmark,
        progress=False,
        target=spec.target,
        features=features,
    )
    seconds = time.perf_counter() - t0
    tmp = Path(tempfile.mkdtemp(prefix="surrogate-nas-ckpt-"))
    try:
        d = save_checkpoint(ckpt, tmp / "ckpt")
        files = {name: (d / name).read_bytes() for name in ("model.pt", "config.json")}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info = {
        "benchmark": spec.benchmark,
        "target": spec.target,
        "algorithm": spec.algorithm + ("+features" if spec.features else ""),
        "meta_seed": spec.seed,
        "train_tasks": train,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - c0,
        "best_val_tau": ckpt.info.get("best_val_tau"),
        "pid": os.getpid(),
        "started": started,
    }
    return files, info


def _checkpoint_from_files(files: dict):
    """Load (once per process) a checkpoint from its files' bytes, through load_checkpoint's checks."""
    import hashlib

    from ..meta.checkpoint import load_checkpoint

    key = hashlib.sha256(files["config.json"]).hexdigest()
    if key not in _CKPT_CACHE:
        tmp = Path(tempfile.mkdtemp(prefix="surrogate-nas-ckpt-"))
        try:
            for name, data in files.items():
                (tmp / name).write_bytes(data)
            _CKPT_CACHE[key] = load_checkpoint(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return _CKPT_CACHE[key]


def run_cell(cfg, cell: Cell, checkpoint_files: dict, before: Callable | None = None, threads: int = 1) -> dict:
    """Run one cell (in a worker or in process): {"rows": [...], "info": {...}, "seconds": s}."""
    _threads(threads)
    if before is not None:
        before(cell.coords)
    from ..search.benchmark_tables import cached_benchmark

    t0, c0 = time.perf_counter(), time.process_time()
    ckpts = {name: _checkpoint_from_files(checkpoint_files[name]) for name in cell.checkpoints}
    c = cell.coords
    table = cached_benchmark(c["benchmark"])
    info = {"pid": os.getpid(), "started": time.time() - (time.perf_counter() - t0)}
    if cfg.kind == "predictor-quality":
        from .predictor_quality import group_of, target_data
        from .predictor_quality import run_cell as pq_cell

        b = next(b for b in cfg.benchmarks if b.name == c["benchmark"])
        methods = [m for m in cfg.methods if group_of(m) == c["group"]]
        data = target_data(table, b.name, c["target"], b.metric)
        rows = pq_cell(table, b.name, c["target"], b.metric, c["k"], c["seed"], methods, ckpts, data)
    else:
        from .search_efficiency import run_cell as se_cell

        b = next(b for b in cfg.benchmarks if b.name == c["benchmark"])
        df, rate = se_cell(
            table,
            b.name,
            c["target"],
            b.metric,
            b.test_metric,
            c["method"],
            c["seed"],
            b.budget,
            b.guided_budget,
            ckpts.get("model"),
            cfg.variants,
            source_metric=_source_metric(b),
        )
        rows = _records(df)
        if rate is not None:
            info["rate"] = rate
    info["cpu_seconds"] = time.process_time() - c0  # less sensitive than wall time to a shared machine
    return {"rows": rows, "info": info, "seconds": time.perf_counter() - t0}


def _records(df: pd.DataFrame) -> list[dict]:
    out = []
    for r in df.to_dict("records"):
        out.append({k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v)) for k, v in r.items()})
    return out


# ---------------------------------------------------------------------- driver side
def check_run_dir(out: Path, cfg) -> None:
    """Save the config in ``out``; a directory started with a different config is refused (one line)."""
    path = out / CONFIG_NAME
    new = config_dict(cfg)
    if path.is_file():
        try:
            old = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            raise ExperimentError(f"{path} is not valid YAML; use a new --out") from None
        if old != new:
            diff = differences(old or {}, new)
            raise ExperimentError(
                f"run directory {out} was started with a different config ({'; '.join(diff[:4])}"
                f"{'; ...' if len(diff) > 4 else ''}); use a new --out or the config in {path}"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, config_yaml(cfg))


def _ckpt_dir(out: Path, key: str) -> Path:
    return out / "checkpoints" / key


def _existing_checkpoint(out: Path, spec: CheckpointSpec) -> dict | None:
    from ..meta.checkpoint import CheckpointError, is_checkpoint_dir, load_checkpoint

    d = _ckpt_dir(out, spec.key)
    if not is_checkpoint_dir(d):
        return None
    try:
        ckpt = load_checkpoint(d)  # sha256 and format checked; a broken one is trained again
    except CheckpointError:
        return None
    from ..meta.maml import MetaConfig

    meta = MetaConfig(**_meta_kwargs(spec)).to_dict()  # the loader returns the same typed model's dict
    want = {k: v for k, v in meta.items() if k != "device"}
    if any(ckpt.meta.get(k) != v for k, v in want.items()) or bool(ckpt.sources.get("features")) != spec.features:
        return None  # made with other settings (e.g. copied from another run): trained again, replacing it
    return {name: (d / name).read_bytes() for name in ("model.pt", "config.json")}


def _save_checkpoint_files(out: Path, key: str, files: dict) -> None:
    with atomic_dir(_ckpt_dir(out, key)) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)


class _Bar:
    def __init__(self, total: int, initial: int, enabled: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total, initial=initial, desc="checkpoints + cells", unit="task", disable=not enabled, smoothing=0.05
        )

    def update(self, n=1):
        self.bar.update(n)

    def close(self):
        self.bar.close()


def run_experiment(
    cfg,
    out: str | os.PathLike,
    *,
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
    command: str | None = None,
    max_retries: int = 3,
    before_cell: Callable | None = None,
    log: Callable[[str], None] = print,
    report: bool = True,
    threads: int = 1,
) -> dict:
    """Run every unfinished cell of ``cfg`` and write the report into ``out``.

    ``workers``: 0 runs in this process (serially, no Ray); N >= 1 starts a local Ray instance with N
    CPUs (default: all cores) unless ``address`` names a running cluster (``ray://...`` / ``auto``)
    or Ray is already initialised. ``before_cell(coords)`` runs in the worker before each cell (a
    hook for fault-injection tests). ``threads``: torch threads of an in-process run (a Ray task
    always uses one). Returns {"cells", "computed", "checkpoints_trained", "seconds"}.
    """
    out = Path(out)
    if isinstance(cfg, dict):
        cfg = config_from_dict(cfg)
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 0):
        raise ExperimentError(f"workers must be an integer >= 0, got {workers!r}")
    check_records(cfg)  # what only the records confirm (targets, metrics, K), before anything is written
    check_run_dir(out, cfg)
    t_start = time.perf_counter()
    specs, cells = plan(cfg)
    with ResultStore(out) as store:
        work = _work(cfg, out, store, specs, cells, log)
        if command is not None and (work.todo or store.get_meta("command") is None):
            store.set_meta("command", command)
        try:
            if work.todo and workers == 0:
                _run_inline(work, progress, before_cell, threads)
            elif work.todo:
                _run_ray(work, progress, before_cell, workers, address, max_retries)
        finally:  # an interrupted session's time counts too
            elapsed = time.perf_counter() - t_start
            if work.todo:
                _add_session(store, elapsed, workers, address)
    work.stats["seconds"] = elapsed
    if report:
        write_report(out, log=log)
    return work.stats


@dataclass
class _Work:
    """What one session runs: the grid's unfinished cells, the checkpoints to meta-train first, the files of
    the checkpoints that exist ({key: files}, added to as they are trained), where results go, the counts."""

    cfg: Any
    out: Path
    store: ResultStore
    todo: list[Cell]
    to_train: list[CheckpointSpec]
    files: dict[str, dict]
    total: int  # cells in the grid
    log: Callable[[str], None]
    stats: dict[str, Any]


def _work(cfg, out: Path, store: ResultStore, specs: list[CheckpointSpec], cells: list[Cell], log) -> _Work:
    """The cells the store does not hold yet and the checkpoints they need (reused when ``out`` has them with
    the same settings); says how many of each."""
    done = store.done_keys()
    todo = [c for c in cells if c.key not in done]
    needed = {k for c in todo for k in c.checkpoints.values()}
    files: dict[str, dict] = {}
    to_train = []
    for s in specs:
        if s.key not in needed:
            continue
        f = _existing_checkpoint(out, s)
        if f is None:
            to_train.append(s)
        else:
            files[s.key] = f
    log(
        f"{cfg.kind}: {len(cells)} cells, {len(done & {c.key for c in cells})} already done, {len(todo)} to run; "
        f"{len(to_train)} checkpoint(s) to meta-train, {len(needed) - len(to_train)} reused"
    )
    stats: dict[str, Any] = {"cells": len(cells), "computed": 0, "checkpoints_trained": 0}
    return _Work(cfg, out, store, todo, to_train, files, len(cells), log, stats)


def _add_session(store: ResultStore, elapsed: float, workers: int | None, address: str | None) -> None:
    """Add a session's wall time to the store's total and record its workers (default: every core, or
    "cluster" on a Ray cluster named by ``address``)."""
    store.set_meta("wall_seconds", float(store.get_meta("wall_seconds", 0.0)) + elapsed)
    recorded: int | str = workers if workers is not None else (os.cpu_count() or 1) if not address else "cluster"
    store.set_meta("workers", recorded)


def _on_checkpoint(work: _Work, spec: CheckpointSpec, res: dict) -> None:
    _save_checkpoint_files(work.out, spec.key, res["files"])
    work.files[spec.key] = res["files"]
    work.store.put_checkpoint(spec.key, res["info"])
    work.stats["checkpoints_trained"] += 1
    i = res["info"]
    work.log(
        f"[{spec.benchmark}/{spec.target}] meta-trained {spec.variant or spec.algorithm}"
        f"{' + free features' if spec.features else ''} (meta seed {spec.seed}) in "
        f"{i['seconds']:.0f}s (val tau {i['best_val_tau']:.3f})"
    )


def _on_cell(work: _Work, cell: Cell, res: dict) -> None:
    info = dict(res["info"], seconds=res["seconds"])
    if work.store.put_cell(cell.coords, res["rows"], info, res["seconds"]):
        work.stats["computed"] += 1


def _run_inline(work: _Work, progress: bool, before_cell, threads: int) -> None:
    bar = _Bar(work.total + len(work.to_train), work.total - len(work.todo), progress)
    try:
        for s in work.to_train:  # the bar counts checkpoints too: it moves while they train
            f, i = train_checkpoint(s, threads)
            _on_checkpoint(work, s, {"files": f, "info": i})
            bar.update(1)
        for c in work.todo:
            res = run_cell(work.cfg, c, {n: work.files[k] for n, k in c.checkpoints.items()}, before_cell, threads)
            _on_cell(work, c, res)
            bar.update(1)
    finally:
        bar.close()


def _run_ray(work: _Work, progress: bool, before_cell, workers, address, max_retries) -> None:
    from ..raycluster import fan_out, remote, session

    with session(address, workers, what="running on Ray (--workers 0: in this process)") as ray:
        ckpt_task = remote(train_checkpoint, num_returns=2, max_retries=max_retries)
        cell_task = remote(_cell_entry, max_retries=max_retries)
        cfg_ref, hook_ref = ray.put(work.cfg), ray.put(before_cell)
        file_refs = {k: ray.put(f) for k, f in work.files.items()}  # existing checkpoints: put once
        sched = _Schedule(work.todo, work.to_train, file_refs)

        def submit(item):
            if isinstance(item, Cell):
                deps = [file_refs[item.checkpoints[n]] for n in sorted(item.checkpoints)]
                return cell_task.remote(cfg_ref, item, hook_ref, *deps)
            f_ref, info_ref = ckpt_task.remote(item)
            sched.file_refs_of[item.key] = f_ref
            return [info_ref, f_ref]

        def on_result(item, res):
            if isinstance(item, Cell):
                _on_cell(work, item, res)
                return
            _on_checkpoint(work, item, {"info": res[0], "files": res[1]})
            file_refs[item.key] = sched.file_refs_of.pop(item.key)
            sched.release()

        failures = fan_out(
            sched.next,
            submit,
            on_result,
            units=lambda item: 1,  # checkpoints (trained first) count too: the bar moves while they train
            desc="checkpoints + cells",
            unit="task",
            total=work.total + len(work.to_train),
            initial=work.total - len(work.todo),
            progress=progress,
        )
    errors = [f"{f.item.key}: {f.error}" for f in failures]
    if sched.waiting:
        errors.append(f"{len(sched.waiting)} cell(s) not run: their checkpoint failed")
    if errors:
        raise ExperimentError(
            f"{len(errors)} task(s) failed (finished cells are stored; rerun to retry the rest); first: {errors[0]}"
        )


class _Schedule:
    """The order of the grid's Ray tasks (Ray does not promise first-in first-out, so the driver decides):
    checkpoints first, then the cells that need nothing (they run while the checkpoints train), and a cell that
    adapts a checkpoint as soon as that checkpoint exists (in the grid's order)."""

    def __init__(self, todo, to_train, file_refs):
        self.file_refs, self.file_refs_of = file_refs, {}
        self.index = {c.key: i for i, c in enumerate(todo)}
        self.queue = list(to_train)
        self.ready = [(self.index[c.key], c) for c in todo if self._has_checkpoints(c)]
        heapq.heapify(self.ready)
        self.waiting = [c for c in todo if not self._has_checkpoints(c)]

    def _has_checkpoints(self, cell) -> bool:
        return all(k in self.file_refs for k in cell.checkpoints.values())

    def next(self):
        """The next checkpoint or cell to run; ``None``: none is ready now."""
        if self.queue:
            return self.queue.pop(0)
        return heapq.heappop(self.ready)[1] if self.ready else None

    def release(self) -> None:
        """Move the cells whose checkpoints all exist now to the ready queue."""
        for c in [c for c in self.waiting if self._has_checkpoints(c)]:
            self.waiting.remove(c)
            heapq.heappush(self.ready, (self.index[c.key], c))


def _cell_entry(cfg, cell: Cell, before, *files) -> dict:
    """The Ray task: checkpoint files arrive as top-level arguments (so Ray resolves them and the cell
    starts only once its checkpoints exist), in the order of the sorted checkpoint names."""
    return run_cell(cfg, cell, dict(zip(sorted(cell.checkpoints), files)), before)


# ---------------------------------------------------------------------- report
def _load_run(out: Path):
    path = out / CONFIG_NAME
    if not path.is_file():
        raise ExperimentError(f"{out} is not an experiment run directory ({CONFIG_NAME} missing)")
    try:
        cfg = config_from_dict(yaml.safe_load(path.read_text()), where=str(path))
    except yaml.YAMLError:
        raise ExperimentError(f"{path} is not valid YAML") from None
    specs, cells = plan(cfg)
    with ResultStore(out, create=False) as store:
        stored = {cell_key(c["coords"]): c for c in store.cells()}
        run = {
            "checkpoints": store.checkpoints(),
            "wall": store.get_meta("wall_seconds", 0.0),
            "workers": store.get_meta("workers", 1),
            "command": store.get_meta("command") or f"surrogate-nas experiment run {cfg.kind} --out {out}",
        }
    if not any(c.key in stored for c in cells):
        raise ExperimentError(f"{out}: no finished cells to report yet")
    return cfg, specs, cells, stored, run


def predictor_quality_results(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(result rows in grid order, meta-training timings, run info) of a predictor-quality run directory."""
    cfg, specs, cells, stored, run = _load_run(Path(run_dir))
    bidx = {b.name: i for i, b in enumerate(cfg.benchmarks)}
    tidx = {(b.name, t): i for b in cfg.benchmarks for i, t in enumerate(b.targets)}
    midx = {m: i for i, m in enumerate(cfg.methods)}
    df = pd.DataFrame([r for c in cells if c.key in stored for r in stored[c.key]["rows"]])
    order = pd.DataFrame(
        {
            "_b": df["benchmark"].map(bidx),
            "_t": [tidx[(b, t)] for b, t in zip(df["benchmark"], df["target_task"])],
            "_k": df["k"].map({k: i for i, k in enumerate(cfg.ks)}),
            "_s": df["seed"],
            "_m": df["method"].map(midx),
        }
    )
    df = df.iloc[order.sort_values(list(order.columns), kind="stable").index].reset_index(drop=True)
    ck = run["checkpoints"]
    timings = pd.DataFrame(
        [
            {
                "benchmark": ck[s.key]["benchmark"],
                "target_task": ck[s.key]["target"],
                "checkpoint": s.key.rsplit("/", 1)[1],
                "meta_train_s": ck[s.key]["seconds"],
                "best_val_tau": ck[s.key]["best_val_tau"],
            }
            for s in specs
            if s.key in ck
        ],
        columns=["benchmark", "target_task", "checkpoint", "meta_train_s", "best_val_tau"],
    )
    return df, timings, {**run, "config": cfg, "missing": sum(c.key not in stored for c in cells)}


def search_efficiency_results(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, list[float], list[str], dict]:
    """(trajectories in grid order, guided-meta scoring rates, run log lines, run info) of a search-efficiency run."""
    cfg, specs, cells, stored, run = _load_run(Path(run_dir))
    traj = pd.concat([pd.DataFrame(stored[c.key]["rows"]) for c in cells if c.key in stored], ignore_index=True)
    rates = [stored[c.key]["info"]["rate"] for c in cells if c.key in stored and "rate" in stored[c.key]["info"]]
    lines, ck = [], run["checkpoints"]
    for b in cfg.benchmarks:
        for target in b.targets:
            for s in specs:
                if s.benchmark == b.name and s.target == target and s.key in ck:
                    i = ck[s.key]
                    lines.append(
                        f"[{b.name}/{target}] meta-trained on {', '.join(i['train_tasks'])} (meta seed "
                        f"{s.seed}) in {i['seconds']:.0f}s (val tau {i['best_val_tau']:.3f})"
                    )
            by_method: dict[str, list] = {}
            for c in cells:
                if c.coords["benchmark"] == b.name and c.coords["target"] == target and c.key in stored:
                    by_method.setdefault(c.coords["method"], []).append(stored[c.key])
            for m, cs in by_method.items():
                budget = max(r["evaluation"] for x in cs for r in x["rows"])
                lines.append(
                    f"  {m:24s} {len(cs)} seeds x {budget} evals in {sum(x['seconds'] for x in cs):6.1f}s "
                    "(summed cell time)"
                )
    return traj, rates, lines, {**run, "config": cfg, "missing": sum(c.key not in stored for c in cells)}


def write_report(
    run_dir: str | os.PathLike, dest: str | os.PathLike | None = None, log: Callable[[str], None] = print
) -> Path:
    """Merge the store of ``run_dir`` into the experiment's markdown/CSV/PNG report, written into ``dest``
    (default: the run directory). Returns the markdown's path."""
    run_dir = Path(run_dir)
    dest = Path(dest) if dest is not None else run_dir
    cfg = _load_run(run_dir)[0]
    dest.mkdir(parents=True, exist_ok=True)
    if cfg.kind == "predictor-quality":
        from .predictor_quality import report_name
        from .predictor_quality import write_report as pq_report

        df, timings, run = predictor_quality_results(run_dir)
        footer = f"\nTotal wall time: {run['wall']:.0f} s ({run['workers']} worker(s), 1 torch thread each).\n"
        name = report_name(cfg.mode)
        pq_report(df, timings, dest, name, footer)
        path = dest / f"{name}.md"
    else:
        from .search_efficiency import finish_markdown
        from .search_efficiency import write_report as se_report

        traj, rates, lines, run = search_efficiency_results(run_dir)
        md, lines = se_report(traj, rates, lines, dest, cfg.mode, run["command"], log=lambda m: None)
        lines.append(f"\ntotal {run['wall']:.0f}s ({run['workers']} worker(s), 1 torch thread each)")
        finish_markdown(md, lines, dest)
        path = dest / "search_efficiency.md"
    if run["missing"]:
        log(f"report: {run['missing']} cell(s) not finished yet; the report covers the rest")
    log(f"report -> {path}")
    return path
