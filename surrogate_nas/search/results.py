"""What a finished search writes next to its journal: trajectory.csv, top.csv, best.json, trajectory.png,
report.md."""

from __future__ import annotations

import json

from ..io import atomic_write_text
from .base import SearchError
from .benchmark_tables import NOISE_FREE
from .config import PREDICTOR_STRATEGIES, SearchResult
from .loop import ranked_metric, ranked_rows
from .report import markdown_table, plot_best_so_far


def best_line(result: SearchResult) -> str:
    """The best architecture with its search metric (and the reported metric when it is another one)."""
    cfg = result.config
    metric = ranked_metric(result.trajectory, cfg.metric)
    values = f"{metric}={result.best_value:.4g}"
    if cfg.test_metric != metric:
        values += f", {cfg.test_metric}={result.best_test:.4g}"
    return f"**Best**: `{result.best_arch}` ({values})"


#: Architectures ``top.csv`` lists.
TOP = 10


def top_table(result: SearchResult, k: int = TOP):
    """The ``k`` best measured architectures by the search metric (best first, ``rank`` 1 = best, as ``verify
    --top-k`` reads it), with their search and reported values and the evaluation that measured them. A
    multi-fidelity run ranks its full-fidelity measurements only."""
    cfg, traj = result.config, ranked_rows(result.trajectory)
    top = traj.sort_values("value", ascending=not cfg.maximize, kind="stable").head(k)
    metric = ranked_metric(result.trajectory, cfg.metric)
    cols = {"arch": "arch", "value": metric, "test": cfg.test_metric, "evaluation": "evaluation"}
    if cfg.test_metric == metric:
        cols.pop("test")
    top = top[list(cols)].rename(columns=cols)
    top.insert(0, "rank", range(1, len(top) + 1))
    return top.reset_index(drop=True)


def _hierarchy_lines(result: SearchResult) -> list[str]:
    """A hierarchical search's coarse phase: the groups it probed and the ones it committed to."""
    if "committed" not in result.info:
        return []
    probed = [_group(g) for g in dict.fromkeys(result.info["probed"])]
    committed = [_group(g) for g in result.info["committed"]]
    return [
        f"- hierarchical: {len(probed)} group(s) probed ({', '.join(probed)}); "
        f"committed to {len(committed)} ({', '.join(committed) or 'none yet'})"
    ]


def _group(g) -> str:
    """A coarse group as text: its parts joined by '-' (never a Python tuple)."""
    return "-".join(map(str, g)) if isinstance(g, (tuple, list)) else str(g)


def write_results(result: SearchResult) -> None:
    """Write the result files into ``result.out`` (each atomically)."""
    out, traj = result.out, result.trajectory
    if out is None:
        raise SearchError("write_results: the result has no output directory (run_search was given no out)")
    atomic_write_text(out / "trajectory.csv", traj.to_csv(index=False))
    atomic_write_text(out / "top.csv", top_table(result).to_csv(index=False))
    atomic_write_text(out / "best.json", _best_json(result))
    cfg = result.config
    plot_best_so_far(
        traj.assign(method=cfg.strategy, seed=cfg.seed),
        out / "trajectory.png",
        column="best_value",
        ylabel=f"best {cfg.metric} so far",
        title=f"{cfg.strategy} on {cfg.space}/{cfg.task}",
        logx=False,
    )
    atomic_write_text(out / "report.md", _report(result))


def _best_json(result: SearchResult) -> str:
    """``best.json``: the best architecture, its values, and what searched for it."""
    cfg = result.config
    return json.dumps(
        {
            "arch": result.best_arch,
            "value": result.best_value,
            "test": result.best_test,
            "metric": ranked_metric(result.trajectory, cfg.metric),
            "test_metric": cfg.test_metric,
            "evaluations": result.evaluations,
            "fidelity": _best_fidelity(result),
            "total_cost": _total_cost(result),
            "cost_unit": _cost_unit(result),
            "budget_cost": cfg.budget_cost,
            "task": cfg.task,
            "strategy": cfg.strategy,
            "seed": cfg.seed,
            "note": result.note,
            "noise_free": bool(result.info.get("noise_free")),
        },
        indent=2,
    )


def _total_cost(result: SearchResult) -> float:
    """The evaluations' total cost (a failed evaluation's unknown cost counts 0)."""
    return float(result.trajectory["cost"].sum()) if "cost" in result.trajectory else 0.0


def _cost_unit(result: SearchResult) -> str:
    return str(result.info.get("cost_unit") or "cost units")


def _best_fidelity(result: SearchResult) -> float | None:
    """The fidelity (epochs) of the best architecture's measurement, None when unknown."""
    traj = ranked_rows(result.trajectory)
    if "fidelity" not in traj:
        return None
    f = traj.loc[traj["arch"] == result.best_arch, "fidelity"].astype(float)
    return float(f.iloc[0]) if len(f) and f.notna().iloc[0] else None


def _fidelities(result: SearchResult) -> str:
    """The trajectory's fidelities as text, e.g. "12 epochs" or "unrecorded"."""
    traj = result.trajectory
    f = sorted(traj["fidelity"].dropna().unique()) if "fidelity" in traj else []
    known = ", ".join(f"{x:g}" for x in f)
    if not known:
        return "unrecorded"
    return f"{known} epochs" + (" (some unrecorded)" if traj["fidelity"].isna().any() else "")


def _report_top(result: SearchResult):
    """The report's 10 best evaluations by the search metric, the reported metric too when it is another one."""
    cfg, traj = result.config, ranked_rows(result.trajectory)
    top = traj.sort_values("value", ascending=not cfg.maximize).head(10)[["evaluation", "arch", "value", "test"]]
    metric = ranked_metric(result.trajectory, cfg.metric)
    if cfg.test_metric != metric:
        return top.rename(columns={"value": metric, "test": cfg.test_metric})
    return top.drop(columns="test").rename(columns={"value": metric})


def _settings_lines(result: SearchResult) -> list[str]:
    """The report's list: what was searched, how, with what, at what cost."""
    cfg = result.config
    rate = f"{result.scored_per_second:,.0f} candidates/s" if result.scored_per_second else "n/a"
    predictor = cfg.predictor if cfg.strategy in PREDICTOR_STRATEGIES else "-"
    return [
        f"- evaluator: {cfg.evaluator}; metric: {cfg.metric} ({'max' if cfg.maximize else 'min'}); "
        f"reported: {cfg.test_metric}" + (f" ({NOISE_FREE})" if result.info.get("noise_free") else ""),
        f"- budget: {cfg.budget} evaluations (support measurements included)"
        + (f", cost {cfg.budget_cost:.4g} ({_cost_unit(result)})" if cfg.budget_cost is not None else "")
        + f"; done: {result.evaluations} ({result.replayed} replayed from the journal)",
        *([f"- note: {result.note}"] if result.note else []),
        f"- seed: {cfg.seed}; model: {cfg.model or '-'}; predictor: {predictor}",
        f"- constraint: {cfg.constraint or '-'} ({cfg.constraint_mode})",
        f"- predictor scoring throughput: {rate}; candidates scored: {result.info.get('scored', 0):,}",
        *_hierarchy_lines(result),
        f"- fidelity: {_fidelities(result)}",
        f"- total cost: {_total_cost(result):.4g} {_cost_unit(result)}",
    ]


def _report(result: SearchResult) -> str:
    """``report.md``."""
    cfg = result.config
    return "\n".join(
        [
            f"# Search report: {cfg.strategy} on {cfg.space} / {cfg.task}",
            "",
            *_settings_lines(result),
            "",
            best_line(result),
            "",
            "## Top 10 evaluated",
            "",
            markdown_table(_report_top(result)),
            "",
            "![best so far](trajectory.png)",
            "",
        ]
    )
