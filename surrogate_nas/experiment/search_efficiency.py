"""Search efficiency: evaluations each searcher needs on a held-out task, side by side.

The grid is benchmark x target x method x seed; one runner cell is one search (one seed of one
method on one target). Predictor-based methods with the ``meta`` predictor need a checkpoint:
search seed s uses the one of meta seed ``meta.seed + s % checkpoints``. A cell's trajectory equals
the old serial script's for the same (target, method, seed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_write_text

#: Budgets of the CSV per benchmark (best value / best test after that many evaluations).
REPORT_BUDGETS = {"nb201": (5, 10, 20, 50, 100), "nas-bench-graph": (10, 20, 50, 200)}


def method_specs(benchmark: str, full_budget: int, guided_budget: int):
    """(name, strategy, options, predictor, budget)."""
    out = [
        ("random", "random", {}, None, full_budget),
        ("evolution", "evolution", {"population": 20, "tournament": 5}, None, full_budget),
        ("local", "local", {}, None, full_budget),
        ("source-rank", "source-rank", {}, None, full_budget),
    ]
    if benchmark == "nb201":
        out.append(("source-rank (cifar100)", "source-rank", {"source_tasks": ["cifar100"]}, None, full_budget))
    out.append(("guided-meta", "guided-evolution", {"n_support": 5}, "meta", guided_budget))
    if benchmark == "nb201":
        out.append(("guided-meta (trust region 50)", "guided-evolution", {"n_support": 5, "trust_region": 50}, "meta",
                    guided_budget))
    out += [
        ("guided-scratch", "guided-evolution", {"n_support": 5, "scratch_steps": 60}, "scratch", guided_budget),
        ("hierarchical", "hierarchical", {"n_support": 5, "n_groups": 3}, "meta", guided_budget),
    ]
    return out


def check_sources(benchmark: str, task: str, full_budget: int, guided_budget: int) -> None:
    """Source-task options are checked against the target before any costly step."""
    from ..benchmarks import check_isolation

    for name, _, opts, _, _ in method_specs(benchmark, full_budget, guided_budget):
        if "source_tasks" in opts:
            check_isolation(task, opts["source_tasks"], where=f"search_efficiency {benchmark}/{task}: {name}")


#: Trajectory columns kept in the store (everything the reports read, plus the architecture).
KEEP = ("evaluation", "arch", "value", "test", "best_value", "best_test", "best_arch")


def run_cell(table, benchmark: str, task: str, metric: str, test_metric: str, method: str, seed: int,
             full_budget: int, guided_budget: int, checkpoint=None) -> tuple[pd.DataFrame, float | None]:
    """One search: the trajectory frame (with benchmark/target/method/seed) and, for guided-meta, its
    predictor-scored candidates per second."""
    from ..search import TableEvaluator, make_searcher, run_loop

    spec = {m[0]: m for m in method_specs(benchmark, full_budget, guided_budget)}[method]
    name, strategy, opts, predictor, budget = spec
    ev = TableEvaluator(table, task, metric, test_metric)
    s = make_searcher(strategy, table.space, seed, opts, table, task, metric, checkpoint, predictor or "meta")
    df = run_loop(s, ev, budget)
    if not df["key"].is_unique:  # the comparison counts evaluations of distinct architectures
        raise RuntimeError(f"{name} seed {seed} evaluated an architecture twice (by canonical key)")
    rate = s.scored_per_second if name == "guided-meta" and s.scored_per_second else None
    return df.assign(benchmark=benchmark, target_task=task, method=name, seed=seed), rate


def _seed_counts(traj: pd.DataFrame) -> str:
    """'25 seeds', or '25 seeds (guided-meta: 5, ...)' when methods ran different numbers of seeds."""
    n = traj.groupby("method")["seed"].nunique()
    most = int(n.max())
    fewer = {m: int(k) for m, k in n.items() if k != most}
    if not fewer:
        return f"{most} seeds"
    return f"{most} seeds ({', '.join(f'{m}: {k}' for m, k in fewer.items())})"


def write_report(traj: pd.DataFrame, rates: list[float], lines: list[str], out: Path, mode: str, command: str,
                 log=print, nb201_table=None) -> tuple[list[str], list[str]]:
    """``out/search_efficiency.{csv,png}`` (+ ``search_efficiency_nbg.png``) from the trajectories of every
    search; returns (markdown lines, run log lines with the summaries added): :func:`finish_markdown`
    writes ``search_efficiency.md`` with the log quoted at its end."""
    from ..search.report import at_budgets, markdown_table, plot_best_so_far

    out.mkdir(parents=True, exist_ok=True)
    lines = list(lines)

    def say(msg):
        log(msg)
        lines.append(msg)

    # ---- the CSV: best value / best test at the checkpoints
    rows = []
    for bench, budgets in REPORT_BUDGETS.items():
        sub = traj[traj["benchmark"] == bench]
        for task, g in sub.groupby("target_task"):
            a = at_budgets(g, budgets, "best_test").merge(at_budgets(g, budgets, "best_value"),
                                                          on=["method", "seed", "evaluations"])
            rows.append(a.assign(benchmark=bench, target_task=task))
    res = pd.concat(rows, ignore_index=True)[["benchmark", "target_task", "method", "seed", "evaluations", "best_value",
                                              "best_test"]]
    atomic_write_text(out / "search_efficiency.csv", res.to_csv(index=False))

    md = [f"# Search efficiency ({mode} mode)", "", f"`{command}`", "",
          "Simulated runs (table evaluator); every evaluation counts, the 5 support measurements of the guided "
          "searchers included. Median over seeds.", ""]
    if rates:
        say(f"predictor scoring throughput (guided-meta, whole-space pool): median {np.median(rates):,.0f} "
            "candidates/s on 1 thread")
        md.append(f"- Predictor-scored candidates per second (guided-meta): median {np.median(rates):,.0f} (1 thread)")
    sub = traj[traj["benchmark"] == "nb201"]
    if len(sub):
        if nb201_table is None:
            from ..search.benchmark_tables import cached_benchmark

            nb201_table = cached_benchmark("nb201")
        opt = float(nb201_table.series("ImageNet16-120", "test_acc").max())
        reach = []
        for (m, s), g in sub.groupby(["method", "seed"], sort=False):
            hit = np.flatnonzero(g["best_test"].to_numpy() >= opt - 1e-6)
            reach.append({"method": m, "seed": s, "to_opt": hit[0] + 1 if len(hit) else np.inf})
        reach = pd.DataFrame(reach)
        tab = res[res["benchmark"] == "nb201"].pivot_table(index="method", columns="evaluations", values="best_test",
                                                           aggfunc="median")
        tab.columns = [f"best@{c}" for c in tab.columns]
        r2 = reach.groupby("method", sort=False)["to_opt"].agg(
            median_evals_to_opt="median", reached=lambda x: f"{np.isfinite(x).sum()}/{len(x)}")
        tab = r2.join(tab).reset_index()
        budgets_ = sub.groupby("method")["evaluation"].max()
        tab.insert(1, "budget", tab["method"].map(budgets_))
        say(f"\nNB-201 ImageNet16-120 (optimum {opt:.2f}): median over seeds\n" + tab.to_string(index=False))
        md += ["", f"## NB-201, target ImageNet16-120 (meta-trained on cifar10, cifar100), {_seed_counts(sub)}",
               "", f"`median_evals_to_opt` = inf when fewer than half the seeds reached {opt:.2f} within the budget.", "",
               markdown_table(tab), "", "![NB-201](search_efficiency.png)", ""]
        g_med = tab.set_index("method")
        if "guided-meta" in g_med.index:
            gm = g_med.loc["guided-meta"]
            md += [f"Goals: guided-meta median evaluations to optimum {gm['median_evals_to_opt']} (goal <= 10); "
                   f"median best@10 {gm.get('best@10', np.nan):.2f} (goal >= 47.2).", ""]
        plot_best_so_far(sub, out / "search_efficiency.png", "best_test", "NB-201 ImageNet16-120 (held out)",
                         "best test acc so far", optimum=opt)
    sub = traj[traj["benchmark"] == "nas-bench-graph"]
    if len(sub):
        r = res[res["benchmark"] == "nas-bench-graph"]
        tab = r.pivot_table(index=["target_task", "method"], columns="evaluations", values="best_test", aggfunc="median")
        tab.columns = [f"test@{c}" for c in tab.columns]
        info = sub.groupby(["target_task", "method"]).agg(seeds=("seed", "nunique"), budget=("evaluation", "max"))
        tab = info.join(tab).reset_index()
        say("\nNAS-Bench-Graph (search on valid_perf, test_perf of the best-valid arch): median over seeds\n"
            + tab.to_string(index=False))
        wins = []
        for task, g in tab.groupby("target_task"):
            g = g.set_index("method")
            if "guided-meta" in g.index and "evolution" in g.index and "test@20" in g and "test@200" in g:
                wins.append({"target_task": task, "guided-meta@20": g.loc["guided-meta", "test@20"],
                             "evolution@200": g.loc["evolution", "test@200"],
                             "win": bool(g.loc["guided-meta", "test@20"] >= g.loc["evolution", "test@200"])})
        md += ["", f"## NAS-Bench-Graph, each dataset held out ({_seed_counts(sub)} per dataset)", "",
               markdown_table(tab), ""]
        if wins:
            w = pd.DataFrame(wins)
            say("\nguided-meta @20 vs evolution @200:\n" + w.to_string(index=False)
                + f"\n=> {int(w['win'].sum())}/{len(w)} datasets (goal >= 7/8)")
            md += ["### Goal: guided-meta with 20 evaluations >= regularized evolution with 200", "", markdown_table(w),
                   "", f"{int(w['win'].sum())}/{len(w)} datasets (goal >= 7 of 8).", ""]
        plot_best_so_far(sub, out / "search_efficiency_nbg.png", "best_test",
                         "NAS-Bench-Graph (all held-out datasets pooled)", "test perf of best-valid arch")
        md += ["![NAS-Bench-Graph](search_efficiency_nbg.png)", ""]
    return md, lines


def finish_markdown(md: list[str], lines: list[str], out: Path) -> str:
    md = md + ["## Log", "", "```", *lines, "```", ""]
    text = "\n".join(md)
    atomic_write_text(out / "search_efficiency.md", text)
    return text
