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

A thin wrapper over ``surrogate_nas.experiment`` (per-cell code, grid runner, report): the flags build
a config, the grid runs in this process (``--workers N``: on a local Ray instance). The same grid as
one resumable, parallel workload (no hand-split needed):

    surrogate-nas experiment run search-efficiency --config experiments/configs/search-efficiency.yaml --out DIR
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

from surrogate_nas.experiment import SEBenchmark, SearchEfficiencyConfig, run_experiment
from surrogate_nas.experiment.runner import search_efficiency_results
from surrogate_nas.experiment.search_efficiency import finish_markdown, method_specs, write_report
from surrogate_nas.io import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"
methods = method_specs  # (name, strategy, options, predictor, budget) per benchmark


def config(args) -> SearchEfficiencyConfig:
    """The experiment config the flags describe (exactly the old full / quick settings)."""
    q = args.quick
    benches = []
    names = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    if "nb201" in names:
        benches.append(SEBenchmark(
            "nb201", ["ImageNet16-120"], "test_acc", "test_acc", train_tasks=["cifar10", "cifar100"],
            seeds=args.seeds or (3 if q else 25), guided_seeds=args.guided_seeds, budget=30 if q else 100,
            guided_budget=args.guided_budget or (20 if q else 100), checkpoints=args.checkpoints or (1 if q else 5),
            meta={"iterations": 40 if q else 400, "val_every": 20 if q else 25, "seed": 0}))
    if "nas-bench-graph" in names:
        from surrogate_nas.search.benchmark_tables import cached_benchmark

        targets = args.nbg_targets.split(",") if args.nbg_targets else (
            ["cora"] if q else list(cached_benchmark("nas-bench-graph").tasks))
        benches.append(SEBenchmark(
            "nas-bench-graph", targets, "valid_perf", "test_perf", seeds=args.nbg_seeds or (2 if q else 5),
            guided_seeds=args.guided_seeds, budget=40 if q else 200, guided_budget=args.guided_budget or (15 if q else 50),
            checkpoints=1, meta={"iterations": 30 if q else 150, "val_every": 15 if q else 25, "seed": 0},
            model={"hidden": 32, "layers": 2} if q else {}))
    return SearchEfficiencyConfig(benchmarks=benches, mode="quick" if q else "full").validate()


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
    ap.add_argument("--workers", type=int, default=0, help="0: run in this process; N: on a local Ray instance")
    ap.add_argument("--state", help="run directory for the store and checkpoints (resumable; default: a temporary one)")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--report", nargs="+", metavar="RUN_DIR", default=None,
                    help="run nothing: write one report from the trajectories of earlier runs")
    args = ap.parse_args(argv)
    if args.checkpoints is not None and args.checkpoints < 1:
        ap.error(f"--checkpoints must be >= 1, got {args.checkpoints}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cmd = "python experiments/search_efficiency.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines: list[str] = []
    rates: list[float] = []
    if args.report:
        frames = []
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
        traj = pd.concat(frames, ignore_index=True)
        total = None
    else:
        cfg = config(args)
        with tempfile.TemporaryDirectory(prefix="search-efficiency-") as tmp:
            state = Path(args.state) if args.state else Path(tmp)
            run_experiment(cfg, state, workers=args.workers, progress=False, report=False, command=cmd)
            traj, rates, lines, run = search_efficiency_results(state)
        total = run["wall"]
        traj.to_csv(out / "trajectories.csv.gz", index=False)
        atomic_write_text(out / "run_log.txt", "\n".join([cmd, *lines, *(f"rate={r}" for r in rates)]) + "\n")
    md, lines = write_report(traj, rates, lines, out, "quick" if args.quick else "full", cmd)
    if total is not None:
        lines.append(f"\ntotal {total:.0f}s")
        print(lines[-1], flush=True)
    finish_markdown(md, lines, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
