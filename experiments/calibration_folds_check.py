"""The held-out calibration's folds fitted together equal the folds refitted one by one, on full-size checkpoints.

    python experiments/calibration_folds_check.py --checkpoints DIR

``DIR``: the ``checkpoints/`` folder of a predictor-quality run that holds ``dkt-seed0`` for NB-201
ImageNet16-120 and NAS-Bench-Graph arxiv (e.g. ``runs/pq/checkpoints`` of
``experiments/configs/predictor-rank-residual-heldout.yaml``). For K = 5 / 10 / 20 / 40 / 100 random support
architectures and the adapt options plain, ``rank_residual`` 0.5 and ``"checkpoint"``, ``correction_sd`` 1, it
prints the largest relative difference between the held-out z-scores of
``calibration._conditioned_folds`` (one readout, one batched GP solve) and ``calibration._refitted_folds``
(the predictor's own ``_fit_support`` per fold), and the two paths' seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from surrogate_nas.benchmarks import load_benchmark
from surrogate_nas.meta import calibration
from surrogate_nas.meta.checkpoint import load_checkpoint
from surrogate_nas.predictors import make_predictor

CASES = (("nb201", "ImageNet16-120", "test_acc"), ("nas-bench-graph", "arxiv", "valid_perf"))
OPTIONS = ({}, {"rank_residual": 0.5}, {"rank_residual": "checkpoint"}, {"correction_sd": 1.0})


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    worst = 0.0
    for bench, task, metric in CASES:
        table = load_benchmark(bench)
        archs = table.space.enumerate()
        y = table.vector(task, metric, archs)
        ckpt = load_checkpoint(f"{args.checkpoints}/{bench}/{task}/dkt-seed0")
        for k in (5, 10, 20, 40, 100):
            idx, keys = [], set()  # k architectures distinct by canonical key
            for i in np.random.default_rng(k).permutation(len(archs)):
                if len(idx) < k and np.isfinite(y[i]) and table.space.canonical(archs[i]) not in keys:
                    keys.add(table.space.canonical(archs[i]))
                    idx.append(i)
            sup, ys = [archs[i] for i in idx], y[idx]
            for options in OPTIONS:
                p = make_predictor("meta", checkpoint=ckpt, space=table.space, seed=0, task=task, **options)
                p.fit(sup, ys)
                src, folds = p._columns(sup), calibration.calibration_folds(p.seed, k)
                t = time.perf_counter()
                out = calibration._conditioned_folds(p, sup, ys, src, folds, (None,))[0]
                batched = calibration.fold_z(folds, out, ys)
                t_batched, t = time.perf_counter() - t, time.perf_counter()
                refitted = calibration.fold_z(folds, calibration._refitted_folds(p, sup, ys, src, folds, None), ys)
                t_refit = time.perf_counter() - t
                diff = float(np.max(np.abs(batched - refitted) / np.maximum(1, np.abs(refitted))))
                worst = max(worst, diff)
                print(f"{bench} {task} K={k} {options or 'plain'}: {len(batched)} z-scores, largest relative "
                      f"difference {diff:.1e}; batched {t_batched * 1000:.0f} ms, refitted {t_refit * 1000:.0f} ms")
    print(f"largest relative difference overall: {worst:.1e}")


if __name__ == "__main__":
    main()
