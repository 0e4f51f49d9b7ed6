"""Cold `surrogate-nas predict --all` on NB-201 with default options: wall time of the real command.

Builds the model ``surrogate-nas pretrain`` makes by default (an ensemble of the default meta-predictor's
members, deep-kernel heads; a few meta-training iterations each: prediction cost depends on the model's size,
not on how long it trained; ``--maml``: one MAML checkpoint instead, the default before the deep-kernel
ensemble), writes a K=20 ImageNet16-120 support file, then runs ``surrogate-nas predict --model M --support S
--all --out P`` as a fresh process: once on a fresh model (its graph rows are computed and kept in the user
cache's store, ``surrogate_nas.meta.pooled.rows_on_disk``), then ``--repeats`` times (they read the rows back),
and prints the median of those; ``--baseline DIR``: the same command from another checkout of the package
(``PYTHONPATH=DIR``), alternating with this one, and the ratio of the medians. Then one in-process breakdown
(imports, model, adapt, predict with the std, CSV; whether PyG was imported), and the seconds of reading the
NB-201 and the NAS-Bench-Graph records in a fresh process with and without the parsed memos
(``surrogate_nas.benchmarks.parsed``).

    python experiments/predict_cold.py [--repeats 3] [--goal 5] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BREAKDOWN = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
ta = time.perf_counter()
import numpy as np, pandas as pd
from surrogate_nas.meta.ensemble import load_model
from surrogate_nas.meta.pooled import rows_on_disk
from surrogate_nas.predictors import make_predictor
t1 = time.perf_counter()
ckpt = load_model(sys.argv[1], defer_convs=True)
space = (ckpt[0] if isinstance(ckpt, list) else ckpt).space
sup = pd.read_csv(sys.argv[2])
t2 = time.perf_counter()
with rows_on_disk():
    pred = make_predictor("meta", checkpoint=ckpt, space=space).fit(sup["arch"].tolist(), sup["value"].to_numpy())
    t3 = time.perf_counter()
    archs = space.enumerate()
    t4 = time.perf_counter()
    mean, std = pred.predict(archs, return_std=True)
    t5 = time.perf_counter()
out = pd.DataFrame({"arch": [space.format(a) for a in archs], "key": [space.canonical(a) for a in archs],
                    "predicted": mean, "std": std}).sort_values("predicted", ascending=False).to_csv(index=False)
t6 = time.perf_counter()
print(json.dumps({"import torch": ta - t0, "other imports": t1 - ta,
                  "load checkpoint + support": t2 - t1, "adapt (K=20)": t3 - t2,
                  "enumerate space": t4 - t3, "predict all + std": t5 - t4, "format + CSV": t6 - t5,
                  "PyG imported": "torch_geometric" in sys.modules}))
"""


RECORDS = r"""
import sys, time, pandas, numpy, torch
from surrogate_nas.benchmarks import load_benchmark
t = time.perf_counter()
load_benchmark(sys.argv[1])
print(time.perf_counter() - t)
"""


def records_seconds(env: dict, repeats: int, benchmark: str = "nb201") -> tuple[float, float]:
    """Medians of reading ``benchmark``'s records in a fresh process (imports excluded) without the parsed memo files
    (an empty cache folder each time: every string parsed, or every NAS-Bench-Graph record key mapped through the
    space's enumeration, the files written) and with them."""
    without, with_memo = [], []
    for _ in range(repeats):
        for out, cache in ((without, tempfile.mkdtemp(prefix="cold_cache_")), (with_memo, None)):
            run_env = env if cache is None else {**env, "XDG_CACHE_HOME": cache}
            r = subprocess.run([sys.executable, "-c", RECORDS, benchmark], capture_output=True, text=True, env=run_env,
                               check=True)
            out.append(float(r.stdout.strip().splitlines()[-1]))
            if cache is not None:
                shutil.rmtree(cache, ignore_errors=True)
    return statistics.median(without), statistics.median(with_memo)


def build(workdir: Path, maml: bool = False) -> tuple[Path, Path]:
    import numpy as np
    import pandas as pd
    import torch

    from surrogate_nas.benchmarks import load_benchmark
    from surrogate_nas.meta.defaults import DEFAULT_MEMBERS
    from surrogate_nas.meta.ensemble import save_model
    from surrogate_nas.meta.maml import MetaConfig, default_meta_config
    from surrogate_nas.meta.pretrain import pretrain

    torch.set_num_threads(1)  # building the model is not what is measured
    table = load_benchmark("nb201")
    configs = ([MetaConfig(iterations=5, val_every=5)] if maml else
               [default_meta_config(iterations=5, val_every=5, seed=s) for s in range(DEFAULT_MEMBERS)])
    ckpts = [pretrain(table, ["cifar10", "cifar100"], "test_acc", meta_config=c, benchmark_name="nb201",
                      progress=False, target="ImageNet16-120") for c in configs]
    model = save_model(ckpts, workdir / "model")
    sp = table.space
    pool = table.archs("ImageNet16-120", "test_acc")
    archs, keys = [], set()
    for a in (pool[i] for i in np.random.default_rng(0).permutation(len(pool))):
        if sp.canonical(a) not in keys and len(archs) < 20:
            keys.add(sp.canonical(a))
            archs.append(a)
    support = workdir / "measured.csv"
    pd.DataFrame({"arch": [sp.format(a) for a in archs],
                  "value": table.vector("ImageNet16-120", "test_acc", archs)}).to_csv(support, index=False)
    return model, support


def _run(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        print(r.stdout, r.stderr, file=sys.stderr)
        raise SystemExit(2)
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--goal", type=float, default=5.0, help="seconds; exit status 1 when the median is above it")
    ap.add_argument("--threads", type=int, default=0,
                    help="OMP_NUM_THREADS for the measured processes (0: leave the environment as it is)")
    ap.add_argument("--keep", help="build the model and support here and keep them (default: a temp dir)")
    ap.add_argument("--maml", action="store_true", help="one MAML checkpoint instead of the default ensemble")
    ap.add_argument("--baseline", help="a checkout of another version (its repository root): the same command "
                    "from it (PYTHONPATH), alternating with this one")
    args = ap.parse_args(argv)
    env = {**os.environ, "TQDM_DISABLE": "1"}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="predict_cold_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if any((work / "model").glob("**/model.pt")) and (work / "measured.csv").is_file():
            model, support = work / "model", work / "measured.csv"
        else:
            model, support = build(work, args.maml)
        # the console script, as a user runs it (``python -m`` would put the working directory first on sys.path,
        # ahead of a --baseline checkout)
        exe = shutil.which("surrogate-nas") or str(Path(sys.executable).with_name("surrogate-nas"))
        cmd = [exe, "predict", "--model", str(model), "--support", str(support), "--all", "--out", str(work / "p.csv")]
        print("command: surrogate-nas predict --model M --support S --all --out P")
        first = _run(cmd, env)
        print(f"  first call on this model (graph rows computed and stored): {first:.2f} s", flush=True)
        runs: dict[str, list[float]] = {"this checkout": []}
        base_env = None
        if args.baseline:
            runs["baseline"] = []
            base_env = {**env, "PYTHONPATH": os.pathsep.join([str(Path(args.baseline).resolve()),
                                                              env.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        for i in range(args.repeats):
            runs["this checkout"].append(_run(cmd, env))
            line = f"  run {i + 1}: {runs['this checkout'][-1]:.2f} s"
            if base_env is not None:
                runs["baseline"].append(_run(cmd, base_env))
                line += f" (baseline {runs['baseline'][-1]:.2f} s)"
            print(line, flush=True)
        rows = sum(1 for _ in open(work / "p.csv")) - 1
        median = statistics.median(runs["this checkout"])
        print(f"cold `predict --all` ({rows} archs, default options): median of {args.repeats} = {median:.2f} s "
              f"(goal <= {args.goal:g} s)")
        if args.baseline:
            base = statistics.median(runs["baseline"])
            print(f"baseline {args.baseline}: median of {args.repeats} = {base:.2f} s; ratio {median / base:.2f}")
        r = subprocess.run([sys.executable, "-c", BREAKDOWN, str(model), str(support)], capture_output=True, text=True,
                           env=env)
        if r.returncode == 0:
            print("breakdown (one fresh process, library calls):")
            for k, v in json.loads(r.stdout.strip().splitlines()[-1]).items():
                print(f"  {k:32s} {v}" if isinstance(v, bool) else f"  {k:32s} {v:6.2f} s")
        else:
            print(r.stderr, file=sys.stderr)
        cold, warm = records_seconds(env, args.repeats)
        print(f"NB-201 records read in a fresh process (imports excluded), median of {args.repeats}: {cold:.2f} s "
              f"parsing every cell, {warm:.2f} s from the parsed-cells memo in the user cache")
        cold, warm = records_seconds(env, args.repeats, "nas-bench-graph")
        print(f"NAS-Bench-Graph records (8 datasets) read in a fresh process, median of {args.repeats}: {cold:.2f} s "
              f"mapping every record key through the space, {warm:.2f} s from the key memo in the user cache")
        return 0 if median <= args.goal else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
