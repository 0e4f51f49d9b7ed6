"""How fast guided search scores candidates with the meta-predictor (goal: >= 1,000 candidates/s).

A meta-predictor is meta-trained briefly on NB-201 cifar10 + cifar100 (the scoring speed does not depend
on how well it is trained), then guided evolution searches ImageNet16-120 with the table evaluator:
5 support evaluations, then ``--guided-steps`` guided ones, each of which scores every unmeasured class
of the space (6,466 NB-201 classes). Reported: candidates scored per second of scoring time, median over
``--repeats`` searches (seeds 0..repeats-1), on one torch thread.

    python experiments/search_scoring_speed.py            # default model size, 5 repeats
    python experiments/search_scoring_speed.py --quick    # small model, 2 repeats (CI smoke)

NB-201 records come from the repo's data/ (or the data dir: `surrogate-nas data list` says where).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from surrogate_nas.benchmarks import load_benchmark
from surrogate_nas.meta.maml import MetaConfig
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.predictors.gnn import ModelConfig
from surrogate_nas.search import TableEvaluator, make_searcher, run_loop

GOAL = 1000.0


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small model, 2 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="searches (seeds), default 5 (quick 2)")
    ap.add_argument("--guided-steps", type=int, default=3)
    ap.add_argument("--acquisition", default="mean", choices=["mean", "ucb", "thompson"])
    args = ap.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    torch.set_num_threads(1)

    table = load_benchmark("nb201")
    t0 = time.perf_counter()
    ckpt = pretrain(table, ["cifar10", "cifar100"], "test_acc",
                    model_config=ModelConfig(hidden=32, layers=2) if args.quick else ModelConfig(),
                    meta_config=MetaConfig(iterations=20, val_every=10), benchmark_name="nb201", progress=False)
    print(f"meta-trained a predictor for the timing in {time.perf_counter() - t0:.1f}s", flush=True)

    ev = TableEvaluator(table, "ImageNet16-120", "test_acc")
    rates, scored = [], []
    for seed in range(repeats):
        s = make_searcher("guided", "nb201", seed, {"n_support": 5, "acquisition": args.acquisition},
                          table, "ImageNet16-120", "test_acc", ckpt)
        run_loop(s, ev, 5 + args.guided_steps)
        rates.append(s.scored_per_second)
        scored.append(s.scored_)
    med = statistics.median(rates)
    print(f"guided evolution on NB-201 ImageNet16-120, acquisition {args.acquisition}, {args.guided_steps} guided steps, "
          f"1 thread, {repeats} seeds: {statistics.median(scored):,.0f} candidates scored per search, "
          f"median {med:,.0f} candidates/s (min {min(rates):,.0f}, max {max(rates):,.0f}); goal >= {GOAL:,.0f}: "
          f"{'met' if med >= GOAL else 'NOT met'}")
    return {"median_per_second": med, "rates": rates, "scored": scored}


if __name__ == "__main__":
    main()
