"""Predictor speed on this machine: meta-training on NB-201 and predicting all 15,625 cells.

    python experiments/predictor_speed.py [--algorithm dkt] [--members 3] [--repeats 5] [--iterations 400]
                                          [--workers 2]

Meta-trains ``--members`` checkpoints (meta seeds 0, 1, ...) for the ImageNet16-120 target on cifar10 +
cifar100, ``--workers`` at a time in separate processes of one torch thread each, and prints the wall
time of all of them. Then, medians over ``--repeats``: adaptation on K=20 and warm prediction of the whole
NB-201 space (graph conversion and source features included), with and without the std, for one member
and for the ensemble of all members.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

from surrogate_nas.benchmarks import load_benchmark
from surrogate_nas.meta.maml import MetaConfig
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.predictors import make_predictor


def _train(args: tuple):
    algorithm, kernel, scale, iterations, seed = args
    torch.set_num_threads(1)
    import surrogate_nas.meta  # noqa: F401

    table = load_benchmark("nb201")
    t0 = time.perf_counter()
    ck = pretrain(table, ["cifar10", "cifar100"], "test_acc", benchmark_name="nb201", progress=False,
                  meta_config=MetaConfig(algorithm=algorithm, kernel=kernel, target_scale=scale, iterations=iterations,
                                             seed=seed),
                  target="ImageNet16-120")
    return ck, time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algorithm", default="dkt", help="MetaConfig algorithm (default: dkt)")
    ap.add_argument("--kernel", default="rbf", help="GP kernel of a dkt head (default: rbf)")
    ap.add_argument("--target-scale", default="robust", help="MetaConfig target_scale (default: robust)")
    ap.add_argument("--members", type=int, default=3, help="ensemble members = meta seeds (default: 3)")
    ap.add_argument("--workers", type=int, default=2, help="members meta-trained at a time (default: 2)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for adapt/predict (default: 1)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    jobs = [(args.algorithm, args.kernel, args.target_scale, args.iterations, s) for s in range(args.members)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        trained = list(pool.map(_train, jobs))
    meta_s = time.perf_counter() - t0
    ckpts = [c for c, _ in trained]
    torch.set_num_threads(args.threads)
    table = load_benchmark("nb201")
    archs = table.space.enumerate()
    y = table.vector("ImageNet16-120", "test_acc", archs)
    idx, keys = [], set()  # 20 distinct architectures (isomorphic cells are one)
    for i in np.random.default_rng(0).permutation(len(archs)):
        if len(idx) < 20 and table.space.canonical(archs[i]) not in keys:
            keys.add(table.space.canonical(archs[i]))
            idx.append(i)
    sup, ys = [archs[i] for i in idx], y[idx]
    results = {}
    for label, ck in (("one member", ckpts[0]), (f"ensemble of {len(ckpts)}", ckpts)):
        adapt_s, predict_s, std_s = [], [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            pred = make_predictor("meta", checkpoint=ck, space=table.space, seed=0, task="ImageNet16-120").fit(sup, ys)
            adapt_s.append(time.perf_counter() - t)
            pred.predict(archs[:10], return_std=True)  # warm: caches of graph specs and source ranks exist
            t = time.perf_counter()
            pred.predict(archs)
            predict_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            pred.predict(archs, return_std=True)
            std_s.append(time.perf_counter() - t)
        results[label] = (statistics.median(adapt_s), statistics.median(predict_s), statistics.median(std_s))
    print(f"algorithm {args.algorithm} (kernel {args.kernel}); torch threads for adapt/predict: {torch.get_num_threads()}")
    for (ck, s) in trained:
        h = ck.info["history"]
        print(f"  meta seed {ck.meta['seed']}: {s:.1f} s ({len(h)} validations, stopped at iteration {h[-1]['iteration']})")
    print(f"meta-train {args.members} member(s), {args.workers} at a time: {meta_s:.1f} s wall")
    for label, (a, p, s) in results.items():
        print(f"{label}: adapt on K=20 {a:.3f} s; predict all 15,625 warm {p:.3f} s; with std {s:.3f} s; "
              f"adapt + predict with std {a + s:.3f} s (medians of {args.repeats})")


if __name__ == "__main__":
    main()
