"""``run_search(SearchConfig) -> SearchResult``: one search run with journal, resume and report.

This is what ``surrogate-nas search`` calls. Every input is checked before anything is written;
then the output directory is locked, the journal opened (another configuration is refused) and
only then ``config.yaml`` written, from the journal's configuration. Output directory layout::

    out/config.yaml       the SearchConfig (YAML), the same as the journal's
    out/journal.sqlite    every evaluation, committed before the searcher is told (resume source)
    out/trajectory.csv    one row per evaluation (fidelity, cost, cum_cost included) with best-so-far columns
    out/top.csv           the 10 best measured by the search metric (rank 1 = best: what `verify --top-k` reads)
    out/best.json         the best architecture found
    out/trajectory.png    best-so-far vs evaluations
    out/report.md         summary
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from pathlib import Path

import numpy as np
import yaml

from ..errors import SurrogateNASError
from ..io import atomic_write_text, check_writable
from ..spaces import get_space
from .base import Constraint, SearchError
from .benchmark_tables import BENCHMARK_METRICS, cached_benchmark, noise_free, source_metric
from .config import PREDICTOR_STRATEGIES, SearchConfig, SearchResult
from .evaluators import EVALUATORS
from .journal import Journal
from .loop import check_fidelity, check_journal_cost, ranked_metric, run_loop
from .predictor_factory import needs_checkpoint, source_scores
from .results import write_results
from .searcher_factory import make_searcher

__all__ = [
    "SearchConfig",
    "SearchResult",
    "run_search",
    "make_searcher",
    "write_results",
    "cached_benchmark",
    "source_scores",
]


def _check_writable(out: Path) -> None:
    try:
        check_writable(out, "output directory", directory=True)
        out.mkdir(parents=True, exist_ok=True)
    except (SurrogateNASError, OSError) as e:
        raise SearchError(f"{e}; the output directory is not writable") from None


@contextlib.contextmanager
def _locked(out: Path):
    """Hold an exclusive lock on the directory ``out`` (one search per directory at a time)."""
    try:
        import fcntl
    except ImportError:  # no flock on this platform: nothing to hold
        yield
        return
    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SearchError(
                f"another search is running in {str(out)!r}; wait for it to finish or use another --out directory"
            ) from None
        yield
    finally:
        os.close(fd)


def _digest(model_dir) -> str:
    """Fingerprint of a checkpoint or ensemble directory (a plain checkpoint's is the same as before ensembles)."""
    from ..meta.ensemble import model_files

    h = hashlib.sha256()
    for p in model_files(model_dir):
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def _table_for(cfg: SearchConfig, space):
    """The benchmark table the search reads (None when nothing needs one); task and metrics checked."""
    needed = (
        cfg.evaluator == "table"
        or cfg.strategy == "source-rank"
        or cfg.constraint
        or cfg.strategy in PREDICTOR_STRATEGIES
    )
    if not needed or not cfg.benchmark:
        return None
    table = cached_benchmark(cfg.benchmark)
    if table.space.name != space.name:
        raise SearchError(f"benchmark {cfg.benchmark!r} is of space {table.space.name!r}, not {space.name!r}")
    if cfg.evaluator == "table":
        if cfg.task not in table.tasks:
            raise SearchError(
                f"unknown task {cfg.task!r} for benchmark {cfg.benchmark!r}; tasks: {', '.join(table.tasks)}"
            )
        have = table.metrics(cfg.task)
        if cfg.metric is None and len(have) == 1:  # an imported table with one metric: search that one
            cfg.metric = have[0]
            cfg.test_metric = cfg.test_metric or cfg.metric
        if cfg.metric is None:
            raise SearchError(
                f"benchmark {cfg.benchmark!r} has no default metric; set the metric to search on "
                f"(--metric), one of {', '.join(have)}"
            )
        for m in (cfg.metric, cfg.test_metric):
            if not table.has_metric(cfg.task, m):
                specs = table.metrics(cfg.task, fidelities=True)
                also = f" (by fidelity: {', '.join(specs)})" if specs != have else ""
                raise SearchError(
                    f"task {cfg.task!r} of benchmark {cfg.benchmark!r} has no metric {m!r}; "
                    f"it has {', '.join(have)}{also}"
                )
    return table


def _constraint_for(cfg: SearchConfig, table, space) -> Constraint | None:
    """The parsed constraint with its table lookup, refused when no recorded architecture satisfies it;
    for a table evaluator over a table that does not record the whole space (an imported one), in
    filter mode also restricted to the recorded architectures."""
    user = _user_constraint(cfg, table)
    if (
        cfg.evaluator != "table"
        or cfg.benchmark in BENCHMARK_METRICS
        or user is not None
        and user.mode != "filter"
        or len(table.series(cfg.task, cfg.metric)) >= len(space.enumerate())
    ):  # built-in tables are complete
        return user

    def recorded(archs):
        return np.where(np.isnan(table.vector(cfg.task, cfg.metric, archs, missing="nan")), np.nan, 0.0)

    where = f"the records of benchmark {cfg.benchmark!r} ({cfg.metric!r} on task {cfg.task!r})"
    if user is None:
        assert cfg.metric is not None  # resolved() names the metric of a table search
        return Constraint(cfg.metric, "<=", 0.0, recorded, label=where)
    values = user.values
    assert values is not None  # a parsed constraint reads the table
    user.values = lambda archs: values(archs) + recorded(archs)
    user.label = f"constraint {cfg.constraint} on {where}"
    return user


def _user_constraint(cfg: SearchConfig, table) -> Constraint | None:
    if not cfg.constraint:
        return None
    c_task = cfg.constraint_task or cfg.task
    constraint = Constraint.parse(cfg.constraint, mode=cfg.constraint_mode)
    if table is None or c_task not in table.tasks or constraint.metric not in table.metrics(c_task):
        raise SearchError(
            f"constraint {cfg.constraint!r}: no {constraint.metric!r} records for task {c_task!r} "
            f"in benchmark {cfg.benchmark!r}"
        )
    recorded = table.series(c_task, constraint.metric).to_numpy(dtype=float)
    ok = recorded <= constraint.limit if constraint.op == "<=" else recorded >= constraint.limit
    if constraint.mode == "filter" and not ok.any():
        best = recorded.min() if constraint.op == "<=" else recorded.max()
        raise SearchError(
            f"no architecture satisfies constraint {cfg.constraint!r}: the {len(recorded)} records of "
            f"{constraint.metric!r} on task {c_task!r} go {'down' if constraint.op == '<=' else 'up'} "
            f"to {best:.4g}"
        )
    constraint.values = lambda archs, _t=c_task, _m=constraint.metric: table.vector(_t, _m, archs, missing="nan")
    return constraint


def run_search(config: SearchConfig) -> SearchResult:
    """Run (or resume, or extend with a larger budget) one search; write the results into ``config.out``."""
    import torch

    t0 = time.perf_counter()
    if not isinstance(config, SearchConfig):
        raise SearchError(f"run_search expects a SearchConfig, got {type(config).__name__}")
    cfg = config.resolved()
    space = get_space(cfg.space)
    out = Path(cfg.out)

    table, searcher, evaluator, digest = _prepare(cfg, space, out)  # every input checked before any write
    _check_writable(out)

    identity = {**cfg.identity(), "model": f"sha256:{digest[:16]}" if digest else None}
    threads = torch.get_num_threads()
    with _locked(out), Journal(out / "journal.sqlite", identity, cfg.to_dict()) as journal, _session(evaluator):
        records = journal.records()
        done = len(records)
        if done > cfg.budget:
            raise SearchError(
                f"journal {journal.path} already has {done} evaluations, more than the budget "
                f"{cfg.budget}; rerun with a budget >= {done} to extend or report it"
            )
        check_journal_cost(records, cfg.budget_cost, journal)
        journal.set_config(cfg.to_dict())
        atomic_write_text(out / "config.yaml", yaml.safe_dump(journal.config(), sort_keys=False))
        try:
            traj = run_loop(
                searcher,
                evaluator,
                cfg.budget,
                journal,
                cfg.batch_size,
                cfg.maximize,
                cfg.progress,
                desc=f"{cfg.strategy} {cfg.task}",
                budget_cost=cfg.budget_cost,
            )
        finally:
            torch.set_num_threads(threads)
    result = _result(cfg, traj, out, searcher, table, evaluator, time.perf_counter() - t0)
    write_results(result)
    return result


def _session(evaluator):
    """The context the evaluator runs a whole search in (e.g. one Ray instance for real training), if it has one."""
    session = getattr(evaluator, "session", None)
    return session() if session is not None else contextlib.nullcontext()


def _result(cfg: SearchConfig, traj, out: Path, searcher, table, evaluator, seconds: float) -> SearchResult:
    """The finished run: its best architecture by the search metric, with what the searcher records of itself and
    the unit of the evaluator's costs."""
    note = traj.attrs.get("exhausted")
    if note:
        note = f"{note}; stopped after {len(traj)} of the budget's {cfg.budget} evaluations"
    else:
        note = traj.attrs.get("cost_stop")
    best = traj.iloc[-1]
    if best["best_arch"] is None:
        note = "; ".join(n for n in (note, "no evaluation at the full fidelity yet: no best architecture") if n)
    info = {
        **searcher.run_info(),
        "noise_free": cfg.evaluator == "table"
        and noise_free(table, cfg.task, ranked_metric(traj, cfg.metric), cfg.test_metric),
        "cost_unit": getattr(evaluator, "cost_unit", "cost units"),
    }
    return SearchResult(
        cfg,
        str(best["best_arch"]),
        float(best["best_value"]),
        float(best["best_test"]),
        len(traj),
        traj,
        out,
        int(traj["replayed"].sum()),
        getattr(searcher, "scored_per_second", None),
        seconds,
        info,
        note,
    )


def _prepare(cfg: SearchConfig, space, out: Path):
    """The run's benchmark table, searcher, evaluator and checkpoint digest ("" without one); every input is
    checked and nothing is written."""
    table = _table_for(cfg, space)
    checkpoint, digest = None, ""
    if cfg.strategy in PREDICTOR_STRATEGIES and needs_checkpoint(cfg.predictor):
        from ..meta.ensemble import load_model

        try:
            assert cfg.model is not None  # resolved() refuses a checkpoint predictor without a model
            checkpoint = load_model(cfg.model)  # a checkpoint, or an ensemble's member checkpoints
        except ValueError as e:
            raise SearchError(str(e)) from None
        digest = _digest(cfg.model)
    constraint = _constraint_for(cfg, table, space)
    evaluator = EVALUATORS.get(cfg.evaluator, config=cfg, table=table, work_dir=out / "train-evals")
    searcher = make_searcher(
        cfg.strategy,
        space,
        cfg.seed,
        cfg.options,
        table,
        cfg.task,
        cfg.metric,
        checkpoint,
        cfg.predictor,
        constraint,
        source_metric=source_metric(cfg.benchmark, cfg.metric),
        maximize=cfg.maximize,
    )
    for fidelity in getattr(searcher, "fidelities", ()):  # a multi-fidelity searcher's, checked before any write
        check_fidelity(evaluator, fidelity)
    return table, searcher, evaluator, digest
