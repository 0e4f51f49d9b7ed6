"""The search loop: ask the searcher, evaluate, journal, tell -- with a budget and resume by replay."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .base import Searcher, SearchError, SpaceExhausted
from .journal import Journal


def run_loop(
    searcher: Searcher,
    evaluator,
    budget: int,
    journal: Journal | None = None,
    batch_size: int = 1,
    maximize: bool = True,
    progress: bool = False,
    desc: str = "search",
) -> pd.DataFrame:
    """Run ``searcher`` until ``budget`` evaluations; return the trajectory (one row per evaluation).

    Every evaluation (support measurements of guided searchers included) counts against the
    budget. Records already in ``journal`` are replayed in order instead of re-evaluated: the
    searcher's suggestion must match the journaled architecture (same canonical key), else the
    journal is refused. A replayed batch is asked with the size it was journaled with, so a journal
    can be extended with a larger budget. New evaluations are committed to the journal before
    ``observe``.

    When the searcher has nothing left to suggest (the space, or its feasible part, is smaller than
    the budget) the loop stops early and the trajectory's ``attrs["exhausted"]`` says why; a
    searcher that cannot suggest even one architecture raises :class:`SpaceExhausted`.
    """
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise SearchError(f"budget must be an int >= 1 (number of evaluations), got {budget!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise SearchError(f"batch_size must be an int >= 1, got {batch_size!r}")
    space = searcher.space
    done = journal.records() if journal is not None else []
    if len(done) > budget:
        raise SearchError(f"journal has {len(done)} evaluations, more than the budget {budget}")
    sign = 1.0 if maximize else -1.0
    rows: list[dict] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=budget, desc=desc, unit="eval", leave=False)
    batch = 0
    exhausted = None
    try:
        while len(rows) < budget:
            i0 = len(rows)
            n = int(done[i0]["batch_size"]) if i0 < len(done) else min(batch_size, budget - i0)
            try:
                archs = searcher.suggest(n)
            except SpaceExhausted as e:
                if not rows:
                    raise
                exhausted = str(e)
                break
            if len(archs) > n:
                raise SearchError(
                    f"searcher {getattr(searcher, 'name', type(searcher).__name__)!r} returned "
                    f"{len(archs)} suggestions for suggest({n})"
                )
            results: list[dict | None] = []
            todo = []
            for j, a in enumerate(archs):
                i = len(rows) + j
                key = space.canonical(a)
                if i < len(done):
                    assert journal is not None  # records come from a journal
                    rec = done[i]
                    if rec["key"] != key or rec["batch"] != batch:
                        raise SearchError(
                            f"journal {journal.path}: evaluation {i} is {rec['arch']!r} but the searcher now suggests "
                            f"{space.format(a)!r}; the journal was written by another version or configuration"
                        )
                    results.append(rec)
                else:
                    results.append(None)
                    todo.append(j)
            if todo:
                fresh = evaluator.evaluate([archs[j] for j in todo])
                if len(fresh) != len(todo):
                    raise SearchError(f"evaluator returned {len(fresh)} results for {len(todo)} architectures")
                for j, r in zip(todo, fresh):
                    r = dict(r)
                    if journal is not None:
                        journal.append(len(rows) + j, batch, n, space.format(archs[j]), space.canonical(archs[j]), r)
                    results[j] = r
            for j, (a, r) in enumerate(zip(archs, results)):
                assert r is not None  # every result is replayed or freshly evaluated
                rows.append(
                    {
                        "evaluation": len(rows) + 1,
                        "batch": batch,
                        "arch": space.format(a),
                        "key": space.canonical(a),
                        "value": _f(r.get("value")),
                        "test": _f(r.get("test")),
                        "cost": _f(r.get("cost")),
                        "status": r.get("status"),
                        "replayed": j not in todo,
                    }
                )
            values = np.array([_f(r.get("value")) for r in results if r is not None])  # all are (asserted above)
            searcher.observe(archs, sign * values)
            batch += 1
            if bar is not None:
                bar.update(len(archs))
                best = searcher.best
                if best is not None:
                    bar.set_postfix(best=f"{sign * best[1]:.4g}")
    finally:
        if bar is not None:
            bar.close()
    traj = trajectory_frame(rows, maximize)
    traj.attrs["exhausted"] = exhausted
    return traj


def _f(x) -> float:
    return float("nan") if x is None else float(x)


def trajectory_frame(rows: Sequence[dict], maximize: bool = True) -> pd.DataFrame:
    """Add best-so-far columns: ``best_value`` and ``best_test`` (test of the best-valued arch so far)."""
    df = pd.DataFrame(list(rows))
    if df.empty:
        return df
    v = df["value"].to_numpy(dtype=float)
    key = np.where(np.isnan(v), -np.inf, v if maximize else -v)
    best_i = np.zeros(len(v), dtype=int)
    cur = 0
    for i in range(len(v)):
        if key[i] > key[cur]:
            cur = i
        best_i[i] = cur
    df["best_value"] = v[best_i]
    df["best_test"] = df["test"].to_numpy(dtype=float)[best_i]
    df["best_arch"] = df["arch"].to_numpy()[best_i]
    df["cum_cost"] = np.nancumsum(df["cost"].to_numpy(dtype=float))
    return df
