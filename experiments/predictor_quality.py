"""Predictor quality: leave-one-task-out few-shot ranking on NB-201 and NAS-Bench-Graph, all methods side by side.

For each held-out target task the meta-predictor is meta-trained on the other tasks (seed 0), then
every method gets the same K support architectures (per seed) and is scored on all other
architectures of the target. Writes CSV + markdown + PNG to experiments/results/.

A thin wrapper over ``surrogate_nas.experiment`` (the per-cell code, the grid runner and the report
live there): the flags build a config and the grid runs in this process (``--workers N``: on a local
Ray instance). The same grid as a resumable workload:

    surrogate-nas experiment run predictor-quality --config experiments/configs/predictor-quality.yaml --out DIR

    python experiments/predictor_quality.py            # full: K in 5..100, 5 seeds, all targets
    python experiments/predictor_quality.py --quick    # CI: one target per benchmark, K=20, 2 seeds
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from surrogate_nas.experiment import PQBenchmark, PredictorQualityConfig, run_experiment, write_report
from surrogate_nas.experiment.predictor_quality import METHODS, build, split  # noqa: F401  (tests use them)

BENCHMARKS = {
    "nb201": {"metric": "test_acc", "targets": ["ImageNet16-120", "cifar100", "cifar10"]},
    "nas-bench-graph": {"metric": "valid_perf",
                        "targets": ["cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv"]},
}


def config(args) -> PredictorQualityConfig:
    """The experiment config the flags describe."""
    benches = []
    for bench in args.benchmarks:
        spec = BENCHMARKS[bench]
        targets = spec["targets"][: args.targets] if args.targets else spec["targets"]
        benches.append(PQBenchmark(bench, spec["metric"], list(targets)))
    return PredictorQualityConfig(benchmarks=benches, ks=list(args.ks), seeds=args.seeds, methods=list(args.methods),
                                  meta={"iterations": args.iterations, "seed": 0},
                                  mode="quick" if args.quick else "full").validate()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--benchmarks", default="nb201,nas-bench-graph")
    ap.add_argument("--ks", default="5,10,20,50,100")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--targets", type=int, default=0, help="only the first N targets per benchmark (0 = all)")
    ap.add_argument("--iterations", type=int, default=400)
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of: {', '.join(METHODS)}")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (in-process run; a Ray task uses 1)")
    ap.add_argument("--workers", type=int, default=0, help="0: run in this process; N: on a local Ray instance")
    ap.add_argument("--state", help="run directory for the store and checkpoints (resumable; default: a temporary one)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.ks, args.seeds, args.targets, args.iterations = "20", 2, 1, 100
    args.benchmarks = args.benchmarks.split(",")
    unknown = [b for b in args.benchmarks if b not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.ks = [int(k) for k in args.ks.split(",")]
    args.methods = args.methods.split(",")
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    cfg = config(args)
    with tempfile.TemporaryDirectory(prefix="predictor-quality-") as tmp:
        state = Path(args.state) if args.state else Path(tmp)
        run_experiment(cfg, state, workers=args.workers, progress=args.progress, threads=args.threads, report=False,
                       command="python experiments/predictor_quality.py " + " ".join(
                           argv if argv is not None else sys.argv[1:]))
        md = write_report(state, dest=args.out)
        print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
