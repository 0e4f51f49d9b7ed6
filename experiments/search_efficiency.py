"""Search efficiency: evaluations needed by each searcher on a held-out task, side by side.

Methods (same process, same seeds, table evaluator = simulated runs; every evaluation counts,
the support measurements of the guided searchers included):
  random, evolution (regularized, P=20 S=5), local (best-improvement), source-rank (mean rank over
  the source tasks; on NB-201 also CIFAR-100 order alone), guided-meta (predictor-guided evolution
  with the adapted meta-predictor), guided-scratch (same searcher, GNN trained from scratch on the
  measurements), hierarchical (skeleton groups first, meta-predictor); on NB-201 also
  guided-meta (trust region 50): guided picks restricted to the best 50 + (measured) by source score.

NB-201: target ImageNet16-120, meta-trained on cifar10 + cifar100; metric test_acc. Five
checkpoints (meta seeds 0-4); search seed s uses checkpoint s % 5, so the spread over seeds
includes the spread over meta-trained models.
NAS-Bench-Graph: each dataset held out, meta-trained on the other 7; search on valid_perf, report
test_perf of the best-valid architecture. One checkpoint per target (meta seed 0), reused across seeds.

    python experiments/search_efficiency.py            # full (NB-201 25 seeds; NBG 5 seeds)
    python experiments/search_efficiency.py --quick    # CI smoke (< 3 min)
    python experiments/search_efficiency.py --benchmarks nb201 --seeds 25
    # the two benchmarks in two processes (one per core), then one report from both:
    python experiments/search_efficiency.py --benchmarks nb201 --out runs/se_nb201
    python experiments/search_efficiency.py --benchmarks nas-bench-graph --out runs/se_nbg
    python experiments/search_efficiency.py --report runs/se_nb201 runs/se_nbg

Writes experiments/results/search_efficiency.{csv,md,png} (+ search_efficiency_nbg.png), and every
run's raw trajectories to OUT/trajectories.csv.gz (what --report reads).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from surrogate_nas.benchmarks import check_isolation
from surrogate_nas.io import atomic_write_text
from surrogate_nas.meta.maml import MetaConfig
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.predictors.gnn import ModelConfig
from surrogate_nas.search import TableEvaluator, make_searcher, run_loop
from surrogate_nas.search.benchmark_tables import cached_benchmark
from surrogate_nas.search.report import at_budgets, markdown_table, plot_best_so_far

RESULTS = Path(__file__).resolve().parent / "results"


def methods(benchmark: str, full_budget: int, guided_budget: int):
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


def run_target(table, bench, task, train_tasks, metric, test_metric, seeds, full_budget, guided_budget, meta_cfg,
               model_cfg, log, guided_seeds=None, n_checkpoints=1):
    """Every searcher over the seeds on one held-out task. The meta-predictor is itself a random
    quantity: ``n_checkpoints`` are meta-trained (meta seeds meta_cfg.seed + i) and search seed s
    uses checkpoint s % n_checkpoints, so the spread over seeds includes the spread over models."""
    # the meta-training tasks are checked by pretrain(target=task); source_tasks options before that costly step
    for name, _, opts, _, _ in methods(bench, full_budget, guided_budget):
        if "source_tasks" in opts:
            check_isolation(task, opts["source_tasks"], where=f"search_efficiency {bench}/{task}: {name}")
    ckpts = []
    for i in range(n_checkpoints):
        t0 = time.perf_counter()
        ckpts.append(pretrain(table, train_tasks, metric, model_config=copy.deepcopy(model_cfg),
                              meta_config=dataclasses.replace(meta_cfg, seed=meta_cfg.seed + i), benchmark_name=bench,
                              progress=False, target=task))
        log(f"[{bench}/{task}] meta-trained on {', '.join(train_tasks)} (meta seed {meta_cfg.seed + i}) in "
            f"{time.perf_counter() - t0:.0f}s (val tau {ckpts[-1].info.get('best_val_tau')})")
    ev = TableEvaluator(table, task, metric, test_metric)
    frames, rates = [], []
    for name, strategy, opts, predictor, budget in methods(bench, full_budget, guided_budget):
        t1 = time.perf_counter()
        for seed in (seeds if predictor is None or guided_seeds is None else guided_seeds):
            s = make_searcher(strategy, table.space, seed, opts, table, task, metric, ckpts[seed % len(ckpts)],
                              predictor or "meta")
            df = run_loop(s, ev, budget)
            if not df["key"].is_unique:  # the comparison counts evaluations of distinct architectures
                raise RuntimeError(f"{name} seed {seed} evaluated an architecture twice (by canonical key)")
            frames.append(df.assign(benchmark=bench, target_task=task, method=name, seed=seed))
            if name == "guided-meta" and s.scored_per_second:
                rates.append(s.scored_per_second)
        log(f"  {name:24s} {len(seeds) if predictor is None or guided_seeds is None else len(guided_seeds)} seeds x {budget} evals in {time.perf_counter() - t1:6.1f}s")
    return pd.concat(frames, ignore_index=True), rates


def _seed_counts(traj: pd.DataFrame) -> str:
    """'25 seeds', or '25 seeds (guided-meta: 5, ...)' when methods ran different numbers of seeds."""
    n = traj.groupby("method")["seed"].nunique()
    most = int(n.max())
    fewer = {m: int(k) for m, k in n.items() if k != most}
    if not fewer:
        return f"{most} seeds"
    return f"{most} seeds ({', '.join(f'{m}: {k}' for m, k in fewer.items())})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="CI smoke mode: few seeds, small budgets, short meta-training")
    ap.add_argument("--benchmarks", default="nb201,nas-bench-graph")
    ap.add_argument("--seeds", type=int, default=None, help="NB-201 seeds (full: 25)")
    ap.add_argument("--nbg-seeds", type=int, default=None, help="NAS-Bench-Graph seeds per dataset (full: 5)")
    ap.add_argument("--nbg-targets", default=None, help="comma list of held-out NBG datasets (default: all 8)")
    ap.add_argument("--guided-seeds", type=int, default=None,
                    help="seeds for the predictor-based methods (default: same as --seeds / --nbg-seeds)")
    ap.add_argument("--guided-budget", type=int, default=None, help="budget of the predictor-based methods")
    ap.add_argument("--checkpoints", type=int, default=None,
                    help="NB-201: meta-trained checkpoints the seeds cycle through (default 5; quick 1)")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--report", nargs="+", metavar="RUN_DIR", default=None,
                    help="run nothing: write one report from the trajectories of earlier runs")
    args = ap.parse_args(argv)
    if args.checkpoints is not None and args.checkpoints < 1:
        ap.error(f"--checkpoints must be >= 1, got {args.checkpoints}")
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    benches = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    lines: list[str] = []

    def log(msg):
        print(msg, flush=True)
        lines.append(msg)

    t_start = time.perf_counter()
    frames, rates = [], []
    model_cfg = ModelConfig()
    if args.report:
        for d in args.report:
            f = Path(d) / "trajectories.csv.gz"
            if not f.is_file():
                ap.error(f"--report: {f} not found (run the experiment with --out {d} first)")
            frames.append(pd.read_csv(f))
            meta_f = Path(d) / "run_log.txt"
            if meta_f.is_file():
                logged = meta_f.read_text().splitlines()
                lines += [f"== {d}", *(x for x in logged if not x.startswith("rate="))]
                rates += [float(x.split("=", 1)[1]) for x in logged if x.startswith("rate=")]
        benches = []
    if "nb201" in benches:
        table = cached_benchmark("nb201")
        n = args.seeds or (3 if args.quick else 25)
        meta = MetaConfig(iterations=40 if args.quick else 400, val_every=20 if args.quick else 25, seed=0)
        df, r = run_target(table, "nb201", "ImageNet16-120", ["cifar10", "cifar100"], "test_acc", "test_acc",
                           list(range(n)), 30 if args.quick else 100, args.guided_budget or (20 if args.quick else 100),
                           meta, model_cfg, log, list(range(args.guided_seeds)) if args.guided_seeds else None,
                           args.checkpoints or (1 if args.quick else 5))
        frames.append(df)
        rates += r
    if "nas-bench-graph" in benches:
        table = cached_benchmark("nas-bench-graph")
        n = args.nbg_seeds or (2 if args.quick else 5)
        targets = args.nbg_targets.split(",") if args.nbg_targets else (["cora"] if args.quick else table.tasks)
        meta = MetaConfig(iterations=30 if args.quick else 150, val_every=15 if args.quick else 25, seed=0)
        for task in targets:
            train = [t for t in table.tasks if t != task]
            df, r = run_target(table, "nas-bench-graph", task, train, "valid_perf", "test_perf", list(range(n)),
                               40 if args.quick else 200, args.guided_budget or (15 if args.quick else 50), meta,
                               ModelConfig(hidden=32, layers=2) if args.quick else model_cfg, log,
                               list(range(args.guided_seeds)) if args.guided_seeds else None)
            frames.append(df)
            rates += r
    traj = pd.concat(frames, ignore_index=True)
    if not args.report:
        traj.to_csv(out / "trajectories.csv.gz", index=False)
        cmd = "python experiments/search_efficiency.py " + " ".join(argv if argv is not None else sys.argv[1:])
        atomic_write_text(out / "run_log.txt", "\n".join([cmd, *lines, *(f"rate={r}" for r in rates)]) + "\n")

    # ---- the CSV: best value / best test at the checkpoints
    rows = []
    for bench, budgets in (("nb201", (5, 10, 20, 50, 100)), ("nas-bench-graph", (10, 20, 50, 200))):
        sub = traj[traj["benchmark"] == bench]
        for task, g in sub.groupby("target_task"):
            a = at_budgets(g, budgets, "best_test").merge(at_budgets(g, budgets, "best_value"),
                                                          on=["method", "seed", "evaluations"])
            rows.append(a.assign(benchmark=bench, target_task=task))
    res = pd.concat(rows, ignore_index=True)[["benchmark", "target_task", "method", "seed", "evaluations", "best_value",
                                              "best_test"]]
    atomic_write_text(out / "search_efficiency.csv", res.to_csv(index=False))

    md = [f"# Search efficiency ({'quick' if args.quick else 'full'} mode)", "",
          "`python experiments/search_efficiency.py " + " ".join(argv if argv is not None else sys.argv[1:]) + "`", "",
          "Simulated runs (table evaluator); every evaluation counts, the 5 support measurements of the guided "
          "searchers included. Median over seeds.", ""]
    if rates:
        log(f"predictor scoring throughput (guided-meta, whole-space pool): median {np.median(rates):,.0f} "
            "candidates/s on 1 thread")
        md.append(f"- Predictor-scored candidates per second (guided-meta): median {np.median(rates):,.0f} (1 thread)")
    sub = traj[traj["benchmark"] == "nb201"]
    if len(sub):
        opt = float(cached_benchmark("nb201").series("ImageNet16-120", "test_acc").max())
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
        log(f"\nNB-201 ImageNet16-120 (optimum {opt:.2f}): median over seeds\n" + tab.to_string(index=False))
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
        log("\nNAS-Bench-Graph (search on valid_perf, test_perf of the best-valid arch): median over seeds\n"
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
            log("\nguided-meta @20 vs evolution @200:\n" + w.to_string(index=False)
                + f"\n=> {int(w['win'].sum())}/{len(w)} datasets (goal >= 7/8)")
            md += ["### Goal: guided-meta with 20 evaluations >= regularized evolution with 200", "", markdown_table(w),
                   "", f"{int(w['win'].sum())}/{len(w)} datasets (goal >= 7 of 8).", ""]
        plot_best_so_far(sub, out / "search_efficiency_nbg.png", "best_test",
                         "NAS-Bench-Graph (all held-out datasets pooled)", "test perf of best-valid arch")
        md += ["![NAS-Bench-Graph](search_efficiency_nbg.png)", ""]
    log(f"\ntotal {time.perf_counter() - t_start:.0f}s")
    md += ["## Log", "", "```", *lines, "```", ""]
    atomic_write_text(out / "search_efficiency.md", "\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
