"""Speed-up of the experiment runner from 1 to 2 Ray workers on a small but real grid.

The grid: predictor quality on NAS-Bench-Graph, targets cora and citeseer held out, K = 5 and 20,
2 seeds, every method, 60 meta iterations (4 checkpoints to meta-train, 24 cells). Each repeat runs
it from an empty run directory once with 1 worker and once with 2 (interleaved, so background load
hits both alike); it prints each run's wall time and the median ratio.

``grid`` is the time of ``run_experiment`` on an already started Ray instance (worker start-up,
table loading, meta-training, cells, report); ``total`` adds ``ray.init``.

    python experiments/runner_speedup.py                 # 2 repeats
    python experiments/runner_speedup.py --repeats 3 --iterations 100

``--estimate RUN_DIR FULL.yaml``: the full grid's wall time from a measured subset run (a run
directory of ``surrogate-nas experiment run`` with a config that is a slice of FULL.yaml, same meta
iterations and budgets): the mean CPU seconds of each kind of task (per benchmark: each checkpoint
algorithm; each method group or search method) times how many such tasks the full grid has, and the
subset's measured wall time scaled by that work ratio.

    python experiments/runner_speedup.py --estimate runs/pq-subset experiments/configs/predictor-quality.yaml
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from surrogate_nas.experiment import PQBenchmark, PredictorQualityConfig, run_experiment


def _burn(n: int) -> float:
    t = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - t


def machine_ceiling(n: int = 20_000_000) -> float:
    """What 2 parallel processes get done relative to 1 on this machine right now (2.0 on 2 idle cores):
    the ceiling of any 1 -> 2 worker speed-up while other work shares the machine."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_burn, [1000, 1000]))  # start the processes
        one = pool.submit(_burn, n).result()
        two = max(pool.map(_burn, [n, n]))
    return 2 * one / two


def grid(iterations: int, targets: list[str]) -> PredictorQualityConfig:
    return PredictorQualityConfig(benchmarks=[PQBenchmark("nas-bench-graph", "valid_perf", targets)], ks=[5, 20],
                                  seeds=2, meta={"iterations": iterations, "seed": 0}, mode="quick").validate()


def one_run(cfg, workers: int, out: Path) -> dict:
    from surrogate_nas.raycluster import start, stop

    t0 = time.perf_counter()
    start(num_cpus=workers)
    try:
        t1 = time.perf_counter()
        stats = run_experiment(cfg, out, progress=False, log=lambda m: None)
        t2 = time.perf_counter()
    finally:
        stop()
    assert stats["computed"] == stats["cells"], stats
    return {"workers": workers, "grid_s": t2 - t1, "total_s": t2 - t0}


def _kind(cell) -> tuple:
    c = cell.coords
    return (c["benchmark"], c.get("group") or c.get("method"))


def estimate(run_dir: Path, full_config: Path) -> None:
    """Print the full grid's estimated work and wall time from the tasks of a subset run."""
    from collections import defaultdict

    from surrogate_nas.experiment import load_config, plan
    from surrogate_nas.experiment.config import config_from_dict
    from surrogate_nas.experiment.store import ResultStore, cell_key
    import yaml

    sub_cfg = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()))
    full = load_config(full_config)
    _, sub_cells = plan(sub_cfg)
    full_specs, full_cells = plan(full)
    with ResultStore(run_dir) as store:
        stored = {cell_key(c["coords"]): c for c in store.cells()}
        ckpts = store.checkpoints()
        wall = store.get_meta("wall_seconds", 0.0)
        workers = store.get_meta("workers")
    cell_cpu, ckpt_cpu = defaultdict(list), defaultdict(list)
    for c in sub_cells:
        if c.key in stored:
            cell_cpu[_kind(c)].append(stored[c.key]["info"]["cpu_seconds"])
    for i in ckpts.values():
        ckpt_cpu[(i["benchmark"], i["algorithm"])].append(i["cpu_seconds"])
    mean = {k: statistics.mean(v) for k, v in cell_cpu.items()}
    mean_ck = {k: statistics.mean(v) for k, v in ckpt_cpu.items()}
    w_sub = sum(map(sum, cell_cpu.values())) + sum(map(sum, ckpt_cpu.values()))
    w_full, unknown = 0.0, set()
    for c in full_cells:
        k = _kind(c)
        if k in mean:
            w_full += mean[k]
        else:
            unknown.add(k)
    for s in full_specs:
        k = (s.benchmark, s.algorithm)
        if k in mean_ck:
            w_full += mean_ck[k]
        else:
            unknown.add(k)
    print(f"subset {run_dir}: {len(stored)} cells + {len(ckpts)} checkpoints, {w_sub:.0f} CPU s of task work, "
          f"wall {wall:.0f} s on {workers} worker(s)")
    for k in sorted(mean):
        print(f"  {k[0]:16s} {k[1]:32s} {mean[k]:7.2f} CPU s per cell x {sum(_kind(c) == k for c in full_cells)} "
              "in the full grid")
    for k in sorted(mean_ck):
        print(f"  {k[0]:16s} checkpoint {k[1]:21s} {mean_ck[k]:7.2f} CPU s x "
              f"{sum((s.benchmark, s.algorithm) == k for s in full_specs)} in the full grid")
    if unknown:
        print(f"  not measured by the subset (left out of the estimate): {sorted(unknown)}")
    print(f"full grid {full_config}: {len(full_cells)} cells + {len(full_specs)} checkpoints, {w_full:.0f} CPU s of "
          f"task work = {w_full / 60:.1f} min on 1 worker, {w_full / 120:.1f} min on 2 (perfect split); "
          f"subset wall scaled by the work ratio: {wall * w_full / w_sub / 60:.1f} min on {workers} worker(s)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=60, help="meta iterations per checkpoint")
    ap.add_argument("--targets", default="cora,citeseer", help="NAS-Bench-Graph targets held out")
    ap.add_argument("--estimate", nargs=2, metavar=("RUN_DIR", "FULL_CONFIG"),
                    help="estimate the full grid's wall time from a subset run directory instead")
    args = ap.parse_args(argv)
    if args.estimate:
        estimate(Path(args.estimate[0]), Path(args.estimate[1]))
        return 0
    cfg = grid(args.iterations, args.targets.split(","))
    ceilings = [machine_ceiling()]
    print(f"machine now: 2 parallel CPU-bound processes do {ceilings[0]:.2f}x the work of 1", flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="runner-speedup-") as tmp:
        for rep in range(args.repeats):
            for w in (1, 2):
                r = one_run(cfg, w, Path(tmp) / f"r{rep}-w{w}")
                runs.append(r)
                print(f"repeat {rep}: {w} worker(s): grid {r['grid_s']:6.1f} s, total {r['total_s']:6.1f} s", flush=True)
            ceilings.append(machine_ceiling())
    med = {w: {k: statistics.median(r[k] for r in runs if r["workers"] == w) for k in ("grid_s", "total_s")}
           for w in (1, 2)}
    print(f"median over {args.repeats} repeats: 1 worker {med[1]['grid_s']:.1f} s, 2 workers {med[2]['grid_s']:.1f} s "
          f"-> speed-up {med[1]['grid_s'] / med[2]['grid_s']:.2f}x (grid); "
          f"{med[1]['total_s'] / med[2]['total_s']:.2f}x including ray.init")
    print(f"machine ceiling (2 CPU burners vs 1) measured around the runs: median {statistics.median(ceilings):.2f}x "
          f"({', '.join(f'{c:.2f}' for c in ceilings)}); 2.00x on an idle 2-core machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
