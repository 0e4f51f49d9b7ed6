"""The README's main job, end to end on the embedded NAS-Bench-Graph records (<= 10 min on 2 cores):

1. meta-train the GNN predictor on 7 datasets (all but ``--target``),
2. search the held-out dataset with predictor-guided evolution: the first 5 evaluations are the
   support set the predictor is adapted on, then it is re-adapted after every evaluation; all
   count against ``--budget`` (simulated runs: valid_perf lookup, test_perf reported),
3. run regularized evolution (200 evaluations) and random search (``--budget``) as baselines,
4. write a report (markdown + PNG + CSV) to ``--out``.

    python experiments/pipeline.py --target cora --budget 20 --out runs/pipeline
    python experiments/pipeline.py --quick      # CI smoke

Every search goes through ``run_search`` (journal, resume: rerunning the command resumes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from surrogate_nas.io import atomic_write_text
from surrogate_nas.meta.checkpoint import save_checkpoint
from surrogate_nas.meta.maml import MetaConfig
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.predictors.gnn import ModelConfig
from surrogate_nas.search import SearchConfig, run_search
from surrogate_nas.search.report import markdown_table, plot_best_so_far
from surrogate_nas.search.run import cached_benchmark


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="cora", help="held-out NAS-Bench-Graph dataset")
    ap.add_argument("--budget", type=int, default=20, help="evaluations of the target for the guided search")
    ap.add_argument("--baseline-budget", type=int, default=200, help="evaluations for regularized evolution")
    ap.add_argument("--iterations", type=int, default=None, help="meta-training iterations (default 150; quick 30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/pipeline")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = cached_benchmark("nas-bench-graph")
    if args.target not in table.tasks:
        print(f"error: unknown target {args.target!r}; datasets: {', '.join(table.tasks)}", file=sys.stderr)
        return 2
    train = [t for t in table.tasks if t != args.target]

    # 1. meta-train (skipped when the checkpoint of this exact setting exists: rerun = resume)
    model_dir = out / "model"
    iters = args.iterations or (30 if args.quick else 150)
    if not (model_dir / "model.pt").is_file():
        print(f"[1/4] meta-training on {', '.join(train)} ({iters} iterations)", flush=True)
        ckpt = pretrain(table, train, "valid_perf",
                        model_config=ModelConfig(hidden=32, layers=2) if args.quick else ModelConfig(),
                        meta_config=MetaConfig(iterations=iters, val_every=15 if args.quick else 25, seed=args.seed),
                        benchmark_name="nas-bench-graph", progress=True)
        save_checkpoint(ckpt, model_dir)
    else:
        print(f"[1/4] using the checkpoint in {model_dir}", flush=True)
    t_meta = time.perf_counter() - t0

    # 2-3. guided search on the held-out dataset, and the baselines
    runs = {}
    budget_base = 40 if args.quick else args.baseline_budget
    plan = [("guided-meta", "guided-evolution", args.budget, str(model_dir)),
            ("evolution", "evolution", budget_base, None),
            ("random", "random", args.budget, None)]
    for i, (name, strategy, budget, model) in enumerate(plan, start=2):
        print(f"[{min(i, 3)}/4] {name}: {budget} evaluations on {args.target}", flush=True)
        runs[name] = run_search(SearchConfig(space="nas-bench-graph", task=args.target, strategy=strategy, budget=budget,
                                             model=model, seed=args.seed, out=str(out / name), progress=True))

    # 4. report
    print("[4/4] report", flush=True)
    rows, trajs = [], []
    for name, r in runs.items():
        trajs.append(r.trajectory.assign(method=name, seed=args.seed))
        for b in sorted({10, 20, args.budget, r.evaluations}):
            if b <= r.evaluations:
                h = r.trajectory.iloc[b - 1]
                rows.append({"method": name, "evaluations": b, "best_valid": h["best_value"],
                             "test_of_best_valid": h["best_test"], "arch": h["best_arch"]})
    summary = pd.DataFrame(rows)
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    plot_best_so_far(pd.concat(trajs, ignore_index=True), out / "pipeline.png", "best_test",
                     f"NAS-Bench-Graph, {args.target} held out", "test perf of the best-valid arch")
    g = runs["guided-meta"]
    seconds = time.perf_counter() - t0
    text = "\n".join([
        f"# Meta-NAS pipeline: NAS-Bench-Graph, target {args.target}", "",
        f"- meta-trained on {', '.join(train)} ({iters} iterations, {t_meta:.0f}s); checkpoint: `{model_dir}`",
        f"- guided search: {g.evaluations} evaluations of {args.target} (5 support measurements included), "
        f"predictor scoring {g.scored_per_second or 0:,.0f} candidates/s",
        f"- best found: `{g.best_arch}` valid_perf={g.best_value:.4f}, test_perf={g.best_test:.4f}",
        f"- optimum of the records: valid_perf={table.series(args.target, 'valid_perf').max():.4f}, "
        f"test_perf={table.series(args.target, 'test_perf').max():.4f}",
        f"- total time {seconds:.0f}s", "", markdown_table(summary), "", "![best so far](pipeline.png)", "",
        "Per-run reports: " + ", ".join(f"[{n}]({n}/report.md)" for n in runs), ""])
    atomic_write_text(out / "report.md", text)
    print(markdown_table(summary))
    print(f"report: {out / 'report.md'} ({seconds:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
