"""Time the arch -> PyG graph conversion of whole spaces (cold cache and warm), median over repeats.

    python experiments/graph_conversion.py [--repeats 5] [--check]

Goal: a cold conversion of the whole NAS-Bench-Graph space (26,206 graphs) in under 2 s on one CPU
core. ``--check`` exits 1 when the median misses it (a benchmark, not a unit test: timings on a
busy machine vary, so tests/test_graphs.py asserts correctness only).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch_geometric.data  # noqa: F401 - graphs imports PyG at its first conversion: not what is timed here

from surrogate_nas.graphs import clear_cache, to_batch
from surrogate_nas.spaces import get_space


GOAL_S = 2.0  # cold conversion of the whole NAS-Bench-Graph space, seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--check", action="store_true", help=f"exit 1 if the NAS-Bench-Graph cold median exceeds {GOAL_S} s")
    args = ap.parse_args(argv)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'space':26s} {'archs':>7s} {'cold s (median)':>16s} {'warm s (median)':>16s}")
    medians = {}
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
        medians[name] = statistics.median(cold)
        print(f"{name:26s} {len(archs):7d} {medians[name]:16.3f} {statistics.median(warm):16.3f}")
    ok = medians["nas-bench-graph"] < GOAL_S
    print(f"goal: nas-bench-graph cold < {GOAL_S} s: {'met' if ok else 'MISSED'} ({medians['nas-bench-graph']:.3f} s)")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    raise SystemExit(main())
