"""Time the arch -> PyG graph conversion of whole spaces (cold cache and warm), median over repeats.

    python experiments/graph_conversion.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from surrogate_nas.graphs import clear_cache, to_batch
from surrogate_nas.spaces import get_space


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'space':26s} {'archs':>7s} {'cold s (median)':>16s} {'warm s (median)':>16s}")
    for name in ("nas-bench-graph", "nb201", "nas-bench-graph-proteins"):
        space = get_space(name)
        archs = space.enumerate()
        cold, warm = [], []
        for _ in range(args.repeats):
            clear_cache(name)
            t = time.perf_counter()
            to_batch(space, archs)
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            to_batch(space, archs)
            warm.append(time.perf_counter() - t)
        print(f"{name:26s} {len(archs):7d} {statistics.median(cold):16.3f} {statistics.median(warm):16.3f}")


if __name__ == "__main__":
    main()
