"""The search loop: ask the searcher, evaluate, journal, tell -- with a budget and resume by replay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from .base import Searcher, SearchError, SpaceExhausted
from .journal import Journal


class _Round(NamedTuple):
    """One round of the loop: its batch number, the index of its first evaluation, how many it asks for."""

    batch: int
    start: int
    size: int


def run_loop(
    searcher: Searcher,
    evaluator,
    budget: int,
    journal: Journal | None = None,
    batch_size: int = 1,
    maximize: bool = True,
    progress: bool = False,
    desc: str = "search",
    budget_cost: float | None = None,
) -> pd.DataFrame:
    """Run ``searcher`` until ``budget`` evaluations; return the trajectory (one row per evaluation).

    Every evaluation (support measurements of guided searchers included) counts against the
    budget. ``budget_cost`` (in the evaluator's cost unit) is a second cap: a round starts only while
    the cumulative cost is below it, and a round that starts completes (so the last one may end above
    it); the trajectory's ``attrs["cost_stop"]`` then says so.

    Records already in ``journal`` are replayed in order instead of re-evaluated: the
    searcher's suggestion must match the journaled architecture (same canonical key), else the
    journal is refused. A replayed batch is asked with the size it was journaled with, so a journal
    can be extended with a larger budget or budget_cost; replayed costs are the journaled ones, so a
    replay stops where the run did. New evaluations are committed to the journal before ``observe``.

    When the searcher has nothing left to suggest (the space, or its feasible part, is smaller than
    the budget) the loop stops early and the trajectory's ``attrs["exhausted"]`` says why; a
    searcher that cannot suggest even one architecture raises :class:`SpaceExhausted`.
    """
    done = _checked_journal(budget, batch_size, budget_cost, journal)
    space = searcher.space
    sign = 1.0 if maximize else -1.0
    rows: list[dict] = []
    bar = _progress_bar(budget, desc) if progress else None
    batch = 0
    exhausted = None
    spent = 0.0
    try:
        while len(rows) < budget and (budget_cost is None or spent < budget_cost):
            rnd = _Round(batch, len(rows), _round_size(done, len(rows), batch_size, budget))
            try:
                archs = _suggest(searcher, rnd.size)
            except SpaceExhausted as e:
                if not rows:
                    raise
                exhausted = str(e)
                break
            results, todo = _results(space, evaluator, journal, done, rnd, archs, searcher.fidelity)
            rows += _rows(space, rnd, archs, results, todo)
            spent += float(np.nansum([r["cost"] for r in rows[rnd.start :]]))
            searcher.observe(archs, sign * np.array([_f(r.get("value")) for r in results]))
            batch += 1
            if bar is not None:
                _advance(bar, len(archs), searcher, sign)
    finally:
        if bar is not None:
            bar.close()
    traj = trajectory_frame(rows, maximize)
    traj.attrs["exhausted"] = exhausted
    traj.attrs["cost_stop"] = _cost_stop(spent, len(rows), budget, budget_cost)
    return traj


def _checked_journal(budget: int, batch_size: int, budget_cost: float | None, journal: Journal | None) -> list[dict]:
    """The journal's records (none without one), once the budgets and the journal are checked against each other."""
    _check_count("budget", budget, " (number of evaluations)")
    _check_count("batch_size", batch_size)
    _check_cost(budget_cost)
    done = journal.records() if journal is not None else []
    if len(done) > budget:
        raise SearchError(f"journal has {len(done)} evaluations, more than the budget {budget}")
    check_journal_cost(done, budget_cost, journal)
    return done


def _cost_stop(spent: float, n: int, budget: int, budget_cost: float | None) -> str | None:
    """Why a loop stopped before its evaluation budget when its cost budget did it, else None."""
    if budget_cost is None or spent < budget_cost or n >= budget:
        return None
    return (
        f"stopped at cost {spent:.4g} >= budget_cost {budget_cost:.4g} after {n} of the budget's {budget} evaluations"
    )


def _check_cost(budget_cost) -> None:
    if budget_cost is None:
        return
    if isinstance(budget_cost, bool) or not isinstance(budget_cost, (int, float, np.number)):
        raise SearchError(f"budget_cost must be a number > 0 (cost units), got {budget_cost!r}")
    if not np.isfinite(budget_cost) or budget_cost <= 0:
        raise SearchError(f"budget_cost must be a finite number > 0 (cost units), got {budget_cost!r}")


def check_journal_cost(done: list[dict], budget_cost: float | None, journal: Journal | None) -> None:
    """Refuse a journal (its :meth:`~Journal.records` ``done``) whose last round started at or above ``budget_cost``:
    a replay would stop before its end."""
    if budget_cost is None or not done:
        return
    last = max(i for i, r in enumerate(done) if i == 0 or r["batch"] != done[i - 1]["batch"])
    before = float(np.nansum([_f(r["cost"]) for r in done[:last]]))
    if before >= budget_cost:
        where = f"journal {journal.path}" if journal is not None else "journal"
        raise SearchError(
            f"{where} already has {len(done)} evaluations whose last round started at cost {before:.4g}, "
            f"at or above the budget_cost {budget_cost:.4g}; rerun with a budget_cost above {before:.4g} to "
            "extend or report it"
        )


def _round_size(done: list[dict], start: int, batch_size: int, budget: int) -> int:
    """A replayed round asks for the size it was journaled with; a new one for ``batch_size``, within the budget."""
    return int(done[start]["batch_size"]) if start < len(done) else min(batch_size, budget - start)


def _check_count(name: str, value, what: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SearchError(f"{name} must be an int >= 1{what}, got {value!r}")


def _progress_bar(budget: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=budget, desc=desc, unit="eval", leave=False)


def _advance(bar, n: int, searcher: Searcher, sign: float) -> None:
    """Move the bar by a round's ``n`` evaluations and show the best value so far."""
    bar.update(n)
    best = searcher.best
    if best is not None:
        bar.set_postfix(best=f"{sign * best[1]:.4g}")


def _suggest(searcher: Searcher, n: int) -> list:
    """The searcher's next suggestions: at most ``n``."""
    archs = searcher.suggest(n)
    if len(archs) > n:
        raise SearchError(
            f"searcher {getattr(searcher, 'name', type(searcher).__name__)!r} returned "
            f"{len(archs)} suggestions for suggest({n})"
        )
    return archs


def _replayed(
    space, journal: Journal | None, done: list[dict], rnd: _Round, archs: list, fidelity: float | None
) -> list[dict | None]:
    """The journal's record of each suggestion of the round (None past its end); a suggestion that differs from
    the one journaled at its place (architecture, round, or the fidelity asked for) refuses the journal."""
    results: list[dict | None] = []
    for j, a in enumerate(archs):
        i = rnd.start + j
        if i >= len(done):
            results.append(None)
            continue
        assert journal is not None  # records come from a journal
        rec = done[i]
        asked = fidelity is not None and rec["fidelity"] != fidelity
        if rec["key"] != space.canonical(a) or rec["batch"] != rnd.batch or asked:
            at = f" at fidelity {fidelity:g}" if fidelity is not None else ""
            raise SearchError(
                f"journal {journal.path}: evaluation {i} is {rec['arch']!r} but the searcher now suggests "
                f"{space.format(a)!r}{at}; the journal was written by another version or configuration"
            )
        results.append(rec)
    return results


def _results(
    space, evaluator, journal: Journal | None, done: list[dict], rnd: _Round, archs: list, fidelity: float | None
) -> tuple[list[dict], list[int]]:
    """The result of each suggestion of the round, replayed from the journal or evaluated now (at ``fidelity``
    when the searcher asks for one) and journaled, and the positions of the ones evaluated now."""
    results = _replayed(space, journal, done, rnd, archs, fidelity)
    todo = [j for j, r in enumerate(results) if r is None]
    if todo:
        fresh = _evaluate(evaluator, [archs[j] for j in todo], fidelity)
        if len(fresh) != len(todo):
            raise SearchError(f"evaluator returned {len(fresh)} results for {len(todo)} architectures")
        for j, r in zip(todo, fresh):
            r = dict(r)
            if journal is not None:
                journal.append(rnd.start + j, rnd.batch, rnd.size, space.format(archs[j]), space.canonical(archs[j]), r)
            results[j] = r
    complete = [r for r in results if r is not None]
    assert len(complete) == len(results)  # every result is replayed or freshly evaluated
    return complete, todo


def check_fidelity(evaluator, fidelity: float) -> None:
    """Refuse a ``fidelity`` the evaluator cannot measure (it measures one fidelity, or has no records of this one),
    in one line, before anything is evaluated."""
    if not getattr(evaluator, "multi_fidelity", False):
        name = getattr(evaluator, "name", type(evaluator).__name__)
        raise SearchError(f"evaluator {name!r} measures one fidelity; the searcher asks for fidelity {fidelity:g}")
    check = getattr(evaluator, "check_fidelity", None)
    if check is not None:
        check(fidelity)


def _evaluate(evaluator, archs: list, fidelity: float | None) -> list[dict]:
    """``evaluator.evaluate(archs)``, at ``fidelity`` when one is asked for (only an evaluator that declares
    ``multi_fidelity`` takes one)."""
    if fidelity is None:
        return evaluator.evaluate(archs)
    check_fidelity(evaluator, fidelity)
    return evaluator.evaluate(archs, fidelity=fidelity)


def _rows(space, rnd: _Round, archs: list, results: list[dict], todo: list[int]) -> list[dict]:
    """The trajectory rows of one round."""
    return [
        {
            "evaluation": rnd.start + j + 1,
            "batch": rnd.batch,
            "arch": space.format(a),
            "key": space.canonical(a),
            "value": _f(r.get("value")),
            "test": _f(r.get("test")),
            "fidelity": _f(r.get("fidelity")),
            "cost": _f(r.get("cost")),
            "status": r.get("status"),
            "replayed": j not in todo,
        }
        for j, (a, r) in enumerate(zip(archs, results))
    ]


def _f(x) -> float:
    return float("nan") if x is None else float(x)


def trajectory_frame(rows: Sequence[dict], maximize: bool = True) -> pd.DataFrame:
    """Add best-so-far columns: ``best_value`` and ``best_test`` (test of the best-valued arch so far).

    When the rows hold more than one fidelity, only measurements at the highest are ranked (a cheap value is not
    comparable with a full one); the best-so-far columns are NaN (``best_arch`` None) before the first of them."""
    df = pd.DataFrame(list(rows))
    if df.empty:
        return df
    v = df["value"].to_numpy(dtype=float)
    key = np.where(np.isnan(v), -np.inf, v if maximize else -v)
    top = _top_fidelity(df)
    if top is not None:
        key = np.where(top, key, -np.inf)
    best_i = np.zeros(len(v), dtype=int)
    cur = 0
    for i in range(len(v)):
        if key[i] > key[cur]:
            cur = i
        best_i[i] = cur
    counted = np.ones(len(v), dtype=bool) if top is None else np.maximum.accumulate(top)
    df["best_value"] = np.where(counted, v[best_i], np.nan)
    df["best_test"] = np.where(counted, df["test"].to_numpy(dtype=float)[best_i], np.nan)
    df["best_arch"] = np.where(counted, df["arch"].to_numpy()[best_i], None)
    df["cum_cost"] = np.nancumsum(df["cost"].to_numpy(dtype=float))
    return df


def _top_fidelity(df: pd.DataFrame) -> np.ndarray | None:
    """Mask of the rows at the highest fidelity when the rows hold more than one (None: a single fidelity)."""
    if "fidelity" not in df:
        return None
    fid = df["fidelity"].to_numpy(dtype=float)
    seen = np.unique(fid[np.isfinite(fid)])
    if len(seen) < 2:
        return None
    return fid == seen.max()


def ranked_rows(traj: pd.DataFrame) -> pd.DataFrame:
    """The rows a run's result ranks: all of them, or those at the highest fidelity when it holds several."""
    top = _top_fidelity(traj) if not traj.empty else None
    return traj if top is None else traj[top]


def ranked_metric(traj: pd.DataFrame, metric: str | None) -> str | None:
    """How the ranked rows' values are named: ``metric``, or ``NAME@F`` at the top fidelity of a multi-fidelity
    run."""
    top = _top_fidelity(traj) if not traj.empty else None
    if top is None or metric is None:
        return metric
    return f"{metric.split('@')[0]}@{float(traj['fidelity'][top].iloc[0]):g}"
