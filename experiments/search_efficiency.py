"""Search efficiency: evaluations needed by each searcher on a held-out task, side by side.

Methods (same process, same seeds, table evaluator = simulated runs; every evaluation counts, the support
measurements of the guided searchers included): random, evolution (regularized, P=20 S=5), local
(best-improvement), source-rank (mean rank over the source tasks; on ImageNet16-120 also the CIFAR-100 order
alone), guided-meta (guided search with the adapted meta-predictor and the default acquisition), guided-meta
q=4 / q=8 (batches chosen jointly), hierarchical (two-level HAS), guided-scratch (a GNN trained from scratch on
the measurements), and on NAS-Bench-Graph a latency constraint (<= the target's 25th percentile) for evolution
(constrained REA) and guided search.

The grid is ``configs/search-efficiency.yaml`` (``--quick``: ``configs/search-efficiency-quick.yaml``); the flags
narrow or resize it. NB-201 follows the published protocol: it searches the 12-epoch validation accuracy
(valid_acc@12) and reports the 200-epoch test accuracy (test_acc@200) of the best-valid architecture, next to the
protocol's ceiling and the 200-epoch maximum; NAS-Bench-Graph searches valid_perf and reports the test_perf of the
best-valid architecture.

    python experiments/search_efficiency.py --workers 2          # full
    python experiments/search_efficiency.py --quick              # CI smoke (< 3 min)
    python experiments/search_efficiency.py --benchmarks nb201 --seeds 5
    python experiments/search_efficiency.py --report runs/a runs/b   # one report from earlier runs

Writes experiments/results/search_efficiency.{csv,md,png} (+ search_efficiency_nbg.png), and every
run's raw trajectories to OUT/trajectories.csv.gz (what --report reads).

A thin wrapper over ``surrogate_nas.experiment``; the same grid as one resumable, parallel workload:

    surrogate-nas experiment run search-efficiency --config experiments/configs/search-efficiency.yaml --out DIR
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

from surrogate_nas.experiment import SearchEfficiencyConfig, run_experiment
from surrogate_nas.experiment.runner import search_efficiency_results
from surrogate_nas.experiment.search_efficiency import finish_markdown, method_specs, write_report
from surrogate_nas.io import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"
methods = method_specs  # the MethodSpecs of a benchmark


CONFIGS = Path(__file__).resolve().parent / "configs"


def config(args) -> SearchEfficiencyConfig:
    """The grid of ``configs/search-efficiency{,-quick}.yaml`` (the one the experiment runner reads), narrowed or
    resized by the flags."""
    from surrogate_nas.experiment.config import load_config

    cfg = load_config(CONFIGS / ("search-efficiency-quick.yaml" if args.quick else "search-efficiency.yaml"),
                      "search-efficiency")
    names = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    cfg.benchmarks = [b for b in cfg.benchmarks if b.name in names]
    for b in cfg.benchmarks:
        seeds = args.seeds if b.name == "nb201" else args.nbg_seeds
        if seeds:
            b.seeds = seeds
        if args.guided_seeds:
            b.guided_seeds = args.guided_seeds
        if args.guided_budget:
            b.guided_budget = args.guided_budget
        if args.checkpoints:
            b.checkpoints = args.checkpoints
        if b.name == "nas-bench-graph" and args.nbg_targets:
            b.targets = args.nbg_targets.split(",")
    return cfg.validate()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="CI smoke mode: few seeds, small budgets, short meta-training")
    ap.add_argument("--benchmarks", default="nb201,nas-bench-graph")
    ap.add_argument("--seeds", type=int, default=None, help="NB-201 seeds (default: the config's)")
    ap.add_argument("--nbg-seeds", type=int, default=None, help="NAS-Bench-Graph seeds per dataset (default: the config's)")
    ap.add_argument("--nbg-targets", default=None, help="comma list of held-out NBG datasets (default: all 8)")
    ap.add_argument("--guided-seeds", type=int, default=None,
                    help="seeds for the predictor-based methods (default: same as --seeds / --nbg-seeds)")
    ap.add_argument("--guided-budget", type=int, default=None, help="budget of the predictor-based methods")
    ap.add_argument("--checkpoints", type=int, default=None,
                    help="meta-trained checkpoints the seeds cycle through (default: the config's)")
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
