"""Search efficiency: evaluations each searcher needs on a held-out task, side by side.

The grid is benchmark x target x method x seed; one runner cell is one search (one seed of one
method on one target). Predictor-based methods with the ``meta`` predictor need a checkpoint:
search seed s uses the one of meta seed ``meta.seed + s % checkpoints``. A cell's trajectory equals
the old serial script's for the same (target, method, seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import atomic_write_text
from .config import VALIDATION_TARGETS

#: Budgets of the CSV per benchmark (best value / best test after that many evaluations).
REPORT_BUDGETS = {"nb201": (5, 10, 20, 50, 100), "nas-bench-graph": (10, 20, 50, 200)}

#: The default guided method's name in the grid, HAS's, and the constraint every ``(latency<=p25)`` method uses.
GUIDED, HAS = "guided-meta", "hierarchical"
LATENCY_QUANTILE = 0.25


@dataclass(frozen=True)
class MethodSpec:
    """One method of the grid: a registered strategy with its options and predictor (None: needs none),
    its evaluation budget, the batch size ``q`` it asks for, and an optional constraint
    (``"latency<=p25"``: the target's recorded latency at most its 25th percentile)."""

    name: str
    strategy: str
    options: dict
    predictor: str | None
    budget: int
    batch_size: int = 1
    constraint: str | None = None


def method_specs(
    benchmark: str, full_budget: int, guided_budget: int, target: str | None = None, variants: dict | None = None
) -> list[MethodSpec]:
    """Every method of the grid for ``benchmark`` (and ``target``: "source-rank (cifar100)" only where CIFAR-100 is
    a source), then the config's ``variants`` ({name: {base, options, batch_size}}: a method with other options)."""
    from ..search.defaults import GUIDED_OPTIONS, HAS_OPTIONS

    g = dict(GUIDED_OPTIONS)
    out = [
        MethodSpec("random", "random", {}, None, full_budget),
        MethodSpec("evolution", "evolution", {"population": 20, "tournament": 5}, None, full_budget),
        MethodSpec("local", "local", {}, None, full_budget),
        MethodSpec("source-rank", "source-rank", {}, None, full_budget),
    ]
    if benchmark == "nb201" and target in (None, "ImageNet16-120"):
        out.append(
            MethodSpec("source-rank (cifar100)", "source-rank", {"source_tasks": ["cifar100"]}, None, full_budget)
        )
    out += [
        MethodSpec(GUIDED, "guided", g, "meta", guided_budget),
        MethodSpec(f"{GUIDED} q=4", "guided", g, "meta", guided_budget, batch_size=4),
        MethodSpec(f"{GUIDED} q=8", "guided", g, "meta", guided_budget, batch_size=8),
        MethodSpec(HAS, "hierarchical", {**g, **HAS_OPTIONS}, "meta", guided_budget),
        MethodSpec("guided-scratch", "guided", {"n_support": 5, "scratch_steps": 60}, "scratch", guided_budget),
    ]
    if benchmark == "nas-bench-graph":
        lat = f"latency<=p{round(100 * LATENCY_QUANTILE)}"
        out += [
            MethodSpec(
                f"evolution ({lat})",
                "evolution",
                {"population": 20, "tournament": 5},
                None,
                full_budget,
                constraint=lat,
            ),
            MethodSpec(f"{GUIDED} ({lat})", "guided", g, "meta", guided_budget, constraint=lat),
        ]
    by_name = {m.name: m for m in out}
    for name, v in (variants or {}).items():
        base = by_name.get(v["base"])
        if base is None:  # e.g. "source-rank (cifar100)" on a target whose sources lack CIFAR-100
            continue
        out.append(
            MethodSpec(
                name,
                base.strategy,
                {**base.options, **dict(v.get("options") or {})},
                base.predictor,
                base.budget,
                int(v.get("batch_size", base.batch_size)),
                base.constraint,
            )
        )
    return out


def make_constraint(table, task: str, text: str | None):
    """``"latency<=p25"`` -> a filter :class:`~surrogate_nas.search.Constraint` on the target's recorded latency."""
    if text is None:
        return None
    from ..search import Constraint

    metric, q = text.split("<=p")
    values = table.vector(task, metric)
    limit = float(np.nanquantile(values, int(q) / 100))
    return Constraint(
        metric,
        "<=",
        limit,
        lambda archs: table.vector(task, metric, archs, missing="nan"),
        mode="filter",
        label=f"{metric} <= {limit:.4g} (the {q}th percentile on {task})",
    )


def run_cell(
    table,
    benchmark: str,
    task: str,
    metric: str,
    test_metric: str,
    method: str,
    seed: int,
    full_budget: int,
    guided_budget: int,
    checkpoint=None,
    variants: dict | None = None,
    source_metric: str | None = None,
) -> tuple[pd.DataFrame, float | None]:
    """One search: the trajectory frame (with benchmark/target/method/seed, the search and reported metric, and
    for predictor-based methods the predictor calls ``scored``) and, for guided-meta, its predictor-scored
    candidates per second. Source tasks are read with ``source_metric`` (default: the benchmark's, see
    :func:`~surrogate_nas.search.benchmark_tables.source_metric`; NB-201: the 200-epoch ``test_acc``)."""
    from ..search import TableEvaluator, make_searcher, run_loop
    from ..search.benchmark_tables import source_metric as default_source_metric

    spec = {m.name: m for m in method_specs(benchmark, full_budget, guided_budget, task, variants)}[method]
    ev = TableEvaluator(table, task, metric, test_metric)
    s = make_searcher(
        spec.strategy,
        table.space,
        seed,
        spec.options,
        table,
        task,
        metric,
        checkpoint,
        spec.predictor or "meta",
        constraint=make_constraint(table, task, spec.constraint),
        source_metric=source_metric or default_source_metric(benchmark, metric),
    )
    df = run_loop(s, ev, spec.budget, batch_size=spec.batch_size)
    if not df["key"].is_unique:  # the comparison counts evaluations of distinct architectures
        raise RuntimeError(f"{method} seed {seed} evaluated an architecture twice (by canonical key)")
    rate = s.scored_per_second if method == GUIDED and s.scored_per_second else None
    df = df.assign(
        benchmark=benchmark, target_task=task, method=method, seed=seed, metric=metric, test_metric=test_metric
    )
    if spec.predictor is not None:
        df["scored"] = int(s.scored_)
    return df, rate


def _seed_counts(traj: pd.DataFrame) -> str:
    """'25 seeds', or '25 seeds (guided-meta: 5, ...)' when methods ran different numbers of seeds."""
    n = traj.groupby("method")["seed"].nunique()
    most = int(n.max())
    fewer = {m: int(k) for m, k in n.items() if k != most}
    if not fewer:
        return f"{most} seeds"
    return f"{most} seeds ({', '.join(f'{m}: {k}' for m, k in fewer.items())})"


def _first_reach(g: pd.DataFrame, column: str, threshold: float) -> tuple[float, float]:
    """(evaluations, rounds) until ``column`` first reaches ``threshold`` in one run (inf when never)."""
    g = g.sort_values("evaluation")
    hit = np.flatnonzero(g[column].to_numpy(dtype=float) >= threshold - 1e-9)
    if not len(hit):
        return np.inf, np.inf
    row = g.iloc[hit[0]]
    return float(row["evaluation"]), float(row["batch"]) + 1 if "batch" in g else np.nan


def _reach_for_good(g: pd.DataFrame, column: str, threshold: float) -> float:
    """Evaluations after which ``column`` stays >= ``threshold`` to the end of the run (inf when it ends below).
    The reported value of the best-reward architecture is not monotone: a cell at the ceiling can be replaced by
    one with a better reward and a worse test value, so the first touch would over-state a search."""
    v = g.sort_values("evaluation")
    below = np.flatnonzero(v[column].to_numpy(dtype=float) < threshold - 1e-9)
    if len(below) == len(v):
        return np.inf
    if not len(below):
        return float(v["evaluation"].iloc[0])
    return float(v["evaluation"].iloc[below[-1] + 1]) if below[-1] + 1 < len(v) else np.inf


def _with_metrics(traj: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """Trajectories with ``metric``/``test_metric`` columns; runs that predate them searched NB-201 on test_acc
    itself (noise-free) and NAS-Bench-Graph on valid_perf (reporting test_perf)."""
    legacy = {"nb201": ("test_acc", "test_acc"), "nas-bench-graph": ("valid_perf", "test_perf")}.get(benchmark)
    traj = traj.copy()
    for col, default in zip(("metric", "test_metric"), legacy or (None, None)):
        if col not in traj:
            traj[col] = default
        elif default is not None:
            traj[col] = traj[col].fillna(default)
    return traj


def _median(x) -> float:
    x = np.asarray(list(x), dtype=float)
    return float(np.median(x)) if len(x) else np.nan


def protocol_ceiling(table, task: str, metric: str, test_metric: str, maximize: bool = True) -> float:
    """The reported metric of the architecture with the best search metric over every record of ``task`` (ties:
    the lowest reported value): what a search reports once it has found the best search value. NB-201 with
    ``valid_acc@12`` -> ``test_acc@200`` (the published protocol): 94.37 cifar10, 72.28 cifar100, 46.48
    ImageNet16-120, below the 200-epoch maxima 94.37 / 73.51 / 47.31; searching the test metric itself: its maximum."""
    v = table.series(task, metric)
    t = table.series(task, test_metric).reindex(v.index)
    best = v.max() if maximize else v.min()
    return float(t[v == best].min())


#: What the NB-201 section says about each kind of search.
NB201_PROTOCOL = (
    "Published protocol (NB-201 / NATS-Bench papers): every search selects on the 12-epoch validation "
    "accuracy (`valid_acc@12`, the reward) and reports the 200-epoch test accuracy (`test_acc@200`) of "
    "the architecture with the best reward so far. The protocol's ceiling is the 200-epoch test "
    "accuracy of the cell with the best 12-epoch validation accuracy (computed from the records); the "
    "200-epoch maximum is shown next to it, out of reach of a search that never sees test accuracy."
)
NB201_NOTE = (
    "Noise-free simulation: search metric = test metric (the search selects on the 200-epoch test "
    "accuracy it reports); no published comparison does this."
)


def write_report(
    traj: pd.DataFrame,
    rates: list[float],
    lines: list[str],
    out: Path,
    mode: str,
    command: str,
    log=print,
    nb201_table=None,
    validation: dict | None = None,
) -> tuple[list[str], list[str]]:
    """``out/search_efficiency.{csv,png}`` (+ ``search_efficiency_nbg.png``) from the trajectories of every
    search; returns (markdown lines, run log lines with the summaries added): :func:`finish_markdown`
    writes ``search_efficiency.md`` with the log quoted at its end. ``validation``: {benchmark: targets} marked
    *(val)* (the targets the defaults were chosen on)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = list(lines)
    validation = validation if validation is not None else VALIDATION_TARGETS

    def say(msg):
        log(msg)
        lines.append(msg)

    def tname(bench, task):
        return f"{task} (val)" if task in validation.get(bench, ()) else task

    res = _best_at_budgets(traj)
    atomic_write_text(out / "search_efficiency.csv", res.to_csv(index=False))
    md = _introduction(mode, command)
    if rates:
        say(f"predictor scoring throughput ({GUIDED}): median {np.median(rates):,.0f} candidates/s on 1 thread")
        md.append(f"- Predictor-scored candidates per second ({GUIDED}): median {np.median(rates):,.0f} (1 thread)")
    md += _nb201_section(traj, res, out, say, tname, nb201_table)
    md += _nbg_section(traj, res, out, say, tname, validation)
    at = (
        res.groupby(["benchmark", "target_task", "method", "evaluations"])["best_test"].median()
        if len(res)
        else pd.Series(dtype=float)
    )
    md += _has_section(traj, at, say, tname)
    md += _batch_section(traj, say, tname)
    md += _constraint_section(traj, at, say, tname)
    return md, lines


def _best_at_budgets(traj: pd.DataFrame) -> pd.DataFrame:
    """The CSV: best value and best test of every search after each of its benchmark's :data:`REPORT_BUDGETS`."""
    from ..search.report import at_budgets

    rows = []
    for bench, budgets in REPORT_BUDGETS.items():
        sub = traj[traj["benchmark"] == bench]
        for task, g in sub.groupby("target_task"):
            a = at_budgets(g, budgets, "best_test").merge(
                at_budgets(g, budgets, "best_value"), on=["method", "seed", "evaluations"]
            )
            rows.append(a.assign(benchmark=bench, target_task=task))
    if not rows:
        return pd.DataFrame()
    return pd.concat(rows, ignore_index=True)[
        ["benchmark", "target_task", "method", "seed", "evaluations", "best_value", "best_test"]
    ]


def _introduction(mode: str, command: str) -> list[str]:
    return [
        f"# Search efficiency ({mode} mode)",
        "",
        f"`{command}`",
        "",
        "Simulated runs (table evaluator); every evaluation counts, the 5 support measurements of the guided "
        "searchers included. Median over seeds; search seed s uses meta-trained checkpoint s mod (checkpoints), so "
        "the spread includes the meta-predictor's own randomness. *(val)*: a validation target, on which the "
        "search defaults were chosen; the others are held out from that choice.",
        "",
    ]


@dataclass(frozen=True)
class _Nb201Target:
    """One NB-201 target as searched: its search and reported metric, whether they are the same (a noise-free
    simulation), the protocol ceiling and the 200-epoch maximum of the reported metric."""

    task: str
    metric: str
    test_metric: str
    free: bool
    ceiling: float
    top: float

    @classmethod
    def of(cls, table, task: str, metric: str, test_metric: str) -> _Nb201Target:
        from ..search.benchmark_tables import noise_free

        return cls(
            task,
            metric,
            test_metric,
            noise_free(table, task, metric, test_metric),
            protocol_ceiling(table, task, metric, test_metric),
            float(table.series(task, test_metric).max()),
        )

    @property
    def kind(self) -> str:
        if self.free:
            return "noise-free simulation: search metric = test metric"
        return f"search {self.metric}, report {self.test_metric}"


def _nb201_section(traj, res, out, say, tname, table) -> list[str]:
    """Every NB-201 target: its protocol ceiling and 200-epoch maximum, best test at the budgets, evaluations to
    the ceiling; ImageNet16-120's figure."""
    from ..search.report import markdown_table

    sub = traj[traj["benchmark"] == "nb201"]
    if not len(sub):
        return []
    if table is None:
        from ..search.benchmark_tables import cached_benchmark

        table = cached_benchmark("nb201")
    sub = _with_metrics(sub, "nb201")
    notes, ceilings, blocks = set(), [], []
    for (task, metric, test_metric), st in sub.groupby(["target_task", "metric", "test_metric"], sort=False):
        target = _Nb201Target.of(table, task, metric, test_metric)
        notes.add(NB201_NOTE if target.free else NB201_PROTOCOL)
        ceilings.append(
            {
                "target": tname("nb201", task),
                "search metric": metric,
                "reported": test_metric,
                "protocol ceiling": target.ceiling,
                "200-epoch max": target.top,
            }
        )
        blocks += _nb201_target_block(target, st, res, out, say, tname)
    c = pd.DataFrame(ceilings)
    say("\nNB-201 ceilings:\n" + c.to_string(index=False))
    return ["", "## NB-201", "", *sorted(notes), "", markdown_table(c, floatfmt=".2f"), "", *blocks]


def _nb201_target_table(target: _Nb201Target, st: pd.DataFrame, res: pd.DataFrame) -> pd.DataFrame:
    """Per method of one target's searches ``st``: budget, median evaluations to the ceiling and how many seeds
    reached it, median best test at each CSV budget."""
    reach = pd.DataFrame(
        [
            {"method": m, "seed": sd, "to_ceiling": _reach_for_good(g, "best_test", target.ceiling)}
            for (m, sd), g in st.groupby(["method", "seed"], sort=False)
        ]
    )
    r = res[
        (res["benchmark"] == "nb201") & (res["target_task"] == target.task) & res["method"].isin(st["method"].unique())
    ]
    tab = r.pivot_table(index="method", columns="evaluations", values="best_test", aggfunc="median")
    tab.columns = [f"test@{c}" for c in tab.columns]
    r2 = reach.groupby("method", sort=False)["to_ceiling"].agg(
        median_evals_to_ceiling="median", reached=lambda x: f"{np.isfinite(x).sum()}/{len(x)}"
    )
    tab = r2.join(tab).reset_index()
    tab.insert(1, "budget", tab["method"].map(st.groupby("method")["evaluation"].max()))
    return tab


def _nb201_target_block(target: _Nb201Target, st, res, out, say, tname) -> list[str]:
    """One NB-201 target's subsection (and its log lines); ImageNet16-120's adds the guided goal and the figure."""
    from ..search.report import markdown_table

    t, name = target, tname("nb201", target.task)
    tab = _nb201_target_table(target, st, res)
    say(
        f"\nNB-201 {name} ({t.kind}; ceiling {t.ceiling:.2f}, 200-epoch max {t.top:.2f}): "
        f"median over seeds\n" + tab.to_string(index=False)
    )
    md = [
        f"### Target {name}, sources: the other two datasets ({_seed_counts(st)}; {t.kind})",
        "",
        f"Ceiling {t.ceiling:.2f} (the {t.test_metric} of the best-{t.metric} cell), 200-epoch maximum "
        f"{t.top:.2f}. `test@N`: median over seeds of the {t.test_metric} of the architecture with the best "
        f"{t.metric} after N evaluations; `median_evals_to_ceiling`: median evaluations from which the "
        f"reported value stays at {t.ceiling:.2f} or above to the end of the budget (inf when fewer than half "
        f"the seeds got there; `reached` counts them).",
        "",
        markdown_table(tab),
        "",
    ]
    if target.task == "ImageNet16-120":
        md += _imagenet_goal(target, tab)
        md += _imagenet_figure(target, st, out)
    return md


def _imagenet_goal(target: _Nb201Target, tab: pd.DataFrame) -> list[str]:
    """How the default guided method did on ImageNet16-120 (none when it did not run there)."""
    g_med = tab.set_index("method")
    if GUIDED not in g_med.index:
        return []
    gm = g_med.loc[GUIDED]
    goal = "goal >= 47.2" if target.free else f"ceiling {target.ceiling:.2f}"
    return [
        f"{GUIDED}: median evaluations to the ceiling {gm['median_evals_to_ceiling']} (CIFAR-100 "
        f"order: {g_med['median_evals_to_ceiling'].get('source-rank (cifar100)', np.nan)}); "
        f"median test@10 {gm.get('test@10', np.nan):.2f} ({goal}).",
        "",
    ]


def _imagenet_figure(target: _Nb201Target, st: pd.DataFrame, out: Path) -> list[str]:
    from ..search.report import plot_best_so_far

    plot_best_so_far(
        st,
        out / "search_efficiency.png",
        "best_test",
        "NB-201 ImageNet16-120 (held out)",
        f"{target.test_metric} of the best {target.metric} so far",
        optimum=target.ceiling,
        optimum_label="ceiling" if not target.free else "optimum",
    )
    return ["![NB-201](search_efficiency.png)", ""]


def _nbg_section(traj, res, out, say, tname, validation) -> list[str]:
    """NAS-Bench-Graph: best test at the budgets per target and method, guided and HAS @20 against evolution
    @200, the figure of the held-out targets."""
    from ..search.report import markdown_table

    sub = traj[traj["benchmark"] == "nas-bench-graph"]
    if not len(sub):
        return []
    tab = _nbg_table(sub, res, tname)
    say(
        "\nNAS-Bench-Graph (search on valid_perf, test_perf of the best-valid arch): median over seeds\n"
        + tab.to_string(index=False)
    )
    md = [
        "",
        f"## NAS-Bench-Graph, each dataset held out ({_seed_counts(sub)} per dataset)",
        "",
        "Searches on valid_perf; reports the test_perf of the best-valid architecture so far.",
        "",
        markdown_table(tab),
        "",
    ]
    md += _nbg_wins(tab, say)
    md += _nbg_figure(sub, out, validation)
    return md


def _nbg_table(sub: pd.DataFrame, res: pd.DataFrame, tname) -> pd.DataFrame:
    """Per (target, method): seeds, budget and median best test at each CSV budget."""
    r = res[res["benchmark"] == "nas-bench-graph"]
    tab = r.pivot_table(index=["target_task", "method"], columns="evaluations", values="best_test", aggfunc="median")
    tab.columns = [f"test@{c}" for c in tab.columns]
    info = sub.groupby(["target_task", "method"]).agg(seeds=("seed", "nunique"), budget=("evaluation", "max"))
    tab = info.join(tab).reset_index()
    tab["target_task"] = [tname("nas-bench-graph", t) for t in tab["target_task"]]
    return tab


def _nbg_win_rows(tab: pd.DataFrame) -> list[dict]:
    """Per target with evolution @200: guided's and HAS's best test @20 and whether each reaches evolution's."""
    wins = []
    for task, g in tab.groupby("target_task", sort=False):
        g = g.set_index("method")
        if "test@20" not in g or "test@200" not in g or "evolution" not in g.index:
            continue
        row = {"target_task": task, "evolution@200": g.loc["evolution", "test@200"]}
        for m in (GUIDED, HAS):
            if m in g.index:
                row[f"{m}@20"] = g.loc[m, "test@20"]
                row[f"{m} win"] = bool(g.loc[m, "test@20"] >= g.loc["evolution", "test@200"])
        wins.append(row)
    return wins


def _nbg_wins(tab: pd.DataFrame, say) -> list[str]:
    """The win counts of guided and HAS @20 over evolution @200, on the held-out targets only."""
    from ..search.report import markdown_table

    wins = _nbg_win_rows(tab)
    if not wins:
        return []
    w = pd.DataFrame(wins)
    held = ~w["target_task"].str.endswith("(val)")
    counts = "; ".join(
        f"{m}: {int(w.loc[held, f'{m} win'].sum())}/{int(held.sum())}" for m in (GUIDED, HAS) if f"{m} win" in w
    )
    say(
        f"\n{GUIDED} and {HAS} @20 vs evolution @200:\n"
        + w.to_string(index=False)
        + f"\n=> held-out datasets: {counts}"
    )
    return [
        f"### {GUIDED} and {HAS} with 20 evaluations vs regularized evolution with 200",
        "",
        markdown_table(w),
        "",
        f"Held-out datasets only (the *(val)* rows are not counted): {counts}.",
        "",
    ]


def _nbg_figure(sub: pd.DataFrame, out: Path, validation: dict) -> list[str]:
    """Best so far of the unconstrained methods, the held-out targets pooled (none when every target is one of
    the validation ones)."""
    from ..search.report import plot_best_so_far

    held_sub = sub[~sub["target_task"].isin(validation.get("nas-bench-graph", ()))]
    unconstrained = held_sub[~held_sub["method"].str.contains("<=")]
    if not len(unconstrained):  # e.g. a grid of the latency-constrained pair alone: its own section plots it
        return []
    plot_best_so_far(
        unconstrained,
        out / "search_efficiency_nbg.png",
        "best_test",
        "NAS-Bench-Graph (all held-out datasets pooled)",
        "test perf of best-valid arch",
    )
    return ["![NAS-Bench-Graph](search_efficiency_nbg.png)", ""]


def _has_section(traj, at, say, tname) -> list[str]:
    """``at``: median best test per (benchmark, target, method, evaluations), from the CSV's budgets."""
    from ..search.report import markdown_table

    rows = []
    for (bench, task), g in traj.groupby(["benchmark", "target_task"], sort=False):
        if not {GUIDED, HAS} <= set(g["method"]):
            continue
        row: dict[str, Any] = {"target": f"{bench}/{tname(bench, task)}"}
        for n in (20, 50):
            h, f = at.get((bench, task, HAS, n), np.nan), at.get((bench, task, GUIDED, n), np.nan)
            row.update({f"{HAS}@{n}": h, f"flat@{n}": f, f"ok@{n}": bool(h >= f - 1e-12)})
        calls = g.groupby(["method", "seed"])["scored"].first()
        row["calls HAS/flat"] = _median(calls[HAS]) / max(_median(calls[GUIDED]), 1.0)
        rows.append(row)
    if not rows:
        return []
    t = pd.DataFrame(rows)
    held = ~t["target"].str.endswith("(val)")
    both = t["ok@20"] & t["ok@50"] & (t["calls HAS/flat"] <= 0.2) & held
    say(
        f"\n{HAS} vs flat {GUIDED} (median best test; predictor calls = candidates scored):\n"
        + t.to_string(index=False)
        + f"\n=> at least as good at 20 and 50 with <= 1/5 of the calls on {int(both.sum())}/{int(held.sum())} "
        "held-out targets"
    )
    return [
        "## Hierarchical search (HAS) vs flat guided search",
        "",
        "Median over seeds of the reported metric of the best-search-metric arch (NB-201 under the protocol: "
        "200-epoch test acc of the best 12-epoch-valid arch; NAS-Bench-Graph test perf of the best-valid "
        "arch) after 20 and 50 evaluations; `calls HAS/flat`: median predictor calls (candidates scored) of "
        "HAS over flat guided search's, counted.",
        "",
        markdown_table(t),
        "",
        f"At least as good at 20 and 50 evaluations with <= 1/5 of the predictor calls on {int(both.sum())} of "
        f"{int(held.sum())} held-out targets (*(val)* rows not counted).",
        "",
    ]


def _batch_section(traj, say, tname) -> list[str]:
    from ..search.report import markdown_table

    rows = []
    names = {1: GUIDED, 4: f"{GUIDED} q=4", 8: f"{GUIDED} q=8"}
    for (bench, task), g in traj.groupby(["benchmark", "target_task"], sort=False):
        if not set(names.values()) <= set(g["method"]):
            continue
        q1 = g[g["method"] == GUIDED]
        thr = _median(q1.groupby("seed")["best_value"].max())
        row: dict[str, Any] = {"target": f"{bench}/{tname(bench, task)}", "threshold": thr}
        for q, m in names.items():
            hits = [_first_reach(s, "best_value", thr) for _, s in g[g["method"] == m].groupby("seed")]
            row[f"evals q={q}"] = _median(e for e, _ in hits)
            row[f"rounds q={q}"] = _median(r for _, r in hits)
        row["evals q8/q1"] = row["evals q=8"] / row["evals q=1"]
        row["rounds q8/q1"] = row["rounds q=8"] / row["rounds q=1"]
        rows.append(row)
    if not rows:
        return []
    t = pd.DataFrame(rows)
    held = ~t["target"].str.endswith("(val)")
    ok = (t["evals q8/q1"] <= 1.3) & (t["rounds q8/q1"] <= 0.2) & held
    say(
        "\nbatches: evaluations and rounds to reach the median final best value of q=1:\n"
        + t.to_string(index=False)
        + f"\n=> q=8 within 1.3x the evaluations in <= 1/5 of the rounds on {int(ok.sum())}/{int(held.sum())} "
        "held-out targets"
    )
    return [
        "## Batches (q candidates per round, evaluated in parallel)",
        "",
        "Threshold: the median over seeds of the best *search* value q=1 reaches within its budget. Median "
        "evaluations and rounds (batches) each q needs to reach it (inf: most seeds never did). The support is "
        "measured in rounds of q as well.",
        "",
        markdown_table(t),
        "",
        f"q=8 within 1.3x the evaluations of q=1 in <= 1/5 of its rounds on {int(ok.sum())} of {int(held.sum())} "
        "held-out targets (*(val)* rows not counted).",
        "",
    ]


def _constraint_section(traj, at, say, tname) -> list[str]:
    from ..search.report import markdown_table

    cons = sorted({m for m in traj["method"].unique() if "(latency<=" in m})
    if not cons:
        return []
    rows = []
    for task in traj[traj["method"].isin(cons)]["target_task"].unique():
        row = {"target": tname("nas-bench-graph", task)}
        for m in cons:
            for n in (20, 50) if m.startswith(GUIDED) else (50, 200):
                row[f"{m.split(' (')[0]}@{n}"] = at.get(("nas-bench-graph", task, m, n), np.nan)
        rows.append(row)
    t = pd.DataFrame(rows)
    say(
        "\nconstrained search (filter: latency <= the target's 25th percentile), median best test:\n"
        + t.to_string(index=False)
    )
    return [
        "## Constrained search: latency <= the target's 25th percentile (NAS-Bench-Graph records)",
        "",
        "The constraint is a hard filter on the candidate pool, applied before the acquisition (guided) or to every "
        "child (regularized evolution, constrained REA); no infeasible architecture is ever measured. Median over "
        "seeds of the test perf of the best-valid feasible architecture.",
        "",
        markdown_table(t),
        "",
    ]


def finish_markdown(md: list[str], lines: list[str], out: Path) -> str:
    md = md + ["## Log", "", "```", *lines, "```", ""]
    text = "\n".join(md)
    atomic_write_text(out / "search_efficiency.md", text)
    return text
