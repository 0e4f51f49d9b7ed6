"""Predictor speed on this machine: meta-training on NB-201 and predicting all 15,625 cells.

    python experiments/predictor_speed.py [--repeats 5] [--iterations 400] [--threads 1]

Prints medians over repeats: warm prediction of the whole NB-201 space (graph conversion and
source features included; model already adapted), adaptation on K=20, and one meta-training run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from surrogate_nas.benchmarks import load_benchmark
from surrogate_nas.meta.adapt import adapt
from surrogate_nas.meta.maml import MetaConfig
from surrogate_nas.meta.pretrain import pretrain


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    table = load_benchmark("nb201")
    t0 = time.perf_counter()
    ckpt = pretrain(table, ["cifar10", "cifar100"], "test_acc", meta_config=MetaConfig(iterations=args.iterations),
                    benchmark_name="nb201", progress=False, target="ImageNet16-120")
    meta_s = time.perf_counter() - t0
    archs = table.space.enumerate()
    y = table.vector("ImageNet16-120", "test_acc", archs)
    idx, keys = [], set()  # 20 distinct architectures (isomorphic cells are one)
    for i in np.random.default_rng(0).permutation(len(archs)):
        if len(idx) < 20 and table.space.canonical(archs[i]) not in keys:
            keys.add(table.space.canonical(archs[i]))
            idx.append(i)
    adapt_s, predict_s, std_s = [], [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        pred = adapt(ckpt, ([archs[i] for i in idx], y[idx]), task="ImageNet16-120")
        adapt_s.append(time.perf_counter() - t)
        pred.predict(archs[:10])  # warm: caches of graph specs and source ranks exist
        t = time.perf_counter()
        pred.predict(archs)
        predict_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        pred.predict(archs, return_std=True)
        std_s.append(time.perf_counter() - t)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"meta-train NB-201 (cifar10+cifar100, {len(ckpt.info['history'])} validations, "
          f"stopped at iteration {ckpt.info['history'][-1]['iteration']}): {meta_s:.1f} s")
    print(f"adapt on K=20 (median of {args.repeats}): {statistics.median(adapt_s):.3f} s")
    print(f"predict all 15,625 NB-201 cells, warm (median): {statistics.median(predict_s):.3f} s")
    print(f"predict all 15,625 with bootstrap std (5 members, first call adapts them; median): {statistics.median(std_s):.3f} s")


if __name__ == "__main__":
    main()
