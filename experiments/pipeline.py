"""The README's main job, end to end on the embedded NAS-Bench-Graph records (<= 10 min on 2 cores):

1. meta-train the default predictor (deep-kernel GP head, robust target scale) on 7 datasets (all but ``--target``),
2. search the held-out dataset with predictor-guided evolution: the first 5 evaluations are the
   support set the predictor is adapted on, then it is re-adapted after every evaluation; all
   count against ``--budget`` (simulated runs: valid_perf lookup, test_perf reported),
   and with hierarchical search (the same predictor; probe the best skeleton groups, commit, search inside them),
3. run regularized evolution and random search (``--baseline-budget`` evaluations each) as baselines,
4. write a report (markdown + PNG + CSV) to ``--out``.

    python experiments/pipeline.py --target citeseer --budget 20 --out runs/pipeline
    python experiments/pipeline.py --quick      # CI smoke

Every search goes through ``run_search`` (journal, resume: rerunning the command resumes). All searches
use ``--seed``: regularized evolution's first ``population`` (20) evaluations are its random initial
population, drawn from the same seeded stream as random search's, so the two coincide up to there (a
paired comparison; the report says how far they coincide).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from surrogate_nas.io import atomic_path, atomic_write_text
from surrogate_nas.meta.checkpoint import save_checkpoint
from surrogate_nas.meta.maml import default_meta_config
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.predictors.gnn import ModelConfig
from surrogate_nas.experiment.config import VALIDATION_TARGETS as _VAL
from surrogate_nas.search import SearchConfig, run_search
from surrogate_nas.search.report import markdown_table
from surrogate_nas.search.benchmark_tables import cached_benchmark

VALIDATION_TARGETS = _VAL["nas-bench-graph"]
#: Evaluation counts reported in the table (those within each run's budget), plus each run's last.
REPORT_AT = (5, 10, 20, 50, 100, 200)
STYLE = {"guided-meta": dict(color="C3", lw=2.2, ls="-"), "hierarchical": dict(color="C1", lw=2.0, ls="-."),
         "evolution": dict(color="C0", lw=1.6, ls="--"),
         "random": dict(color="C2", lw=1.6, ls=":")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="citeseer",
                    help="NAS-Bench-Graph dataset held out of meta-training (default citeseer: also held out from "
                         "the choice of every default; cora and photo are the validation targets)")
    ap.add_argument("--budget", type=int, default=20, help="evaluations of the target for the guided search")
    ap.add_argument("--baseline-budget", type=int, default=200,
                    help="evaluations for regularized evolution and random search (quick: 40)")
    ap.add_argument("--iterations", type=int, default=None, help="meta-training iterations (default 150; quick 30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/pipeline")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    out = Path(args.out)
    table = cached_benchmark("nas-bench-graph")
    if args.target not in table.tasks:
        print(f"error: unknown target {args.target!r}; datasets: {', '.join(table.tasks)}", file=sys.stderr)
        return 2
    train = [t for t in table.tasks if t != args.target]
    out.mkdir(parents=True, exist_ok=True)

    # 1. meta-train (skipped when the checkpoint of this exact setting exists: rerun = resume)
    model_dir = out / "model"
    iters = args.iterations or (30 if args.quick else 150)
    if not (model_dir / "model.pt").is_file():
        print(f"[1/4] meta-training on {', '.join(train)} ({iters} iterations)", flush=True)
        ckpt = pretrain(table, train, "valid_perf",
                        model_config=ModelConfig(hidden=32, layers=2) if args.quick else ModelConfig(),
                        meta_config=default_meta_config(iterations=iters, val_every=15 if args.quick else 25, seed=args.seed),
                        benchmark_name="nas-bench-graph", progress=True, target=args.target)
        save_checkpoint(ckpt, model_dir)
    else:
        print(f"[1/4] using the checkpoint in {model_dir}", flush=True)
    t_meta = time.perf_counter() - t0

    # 2-3. guided search on the held-out dataset, and the baselines
    runs = {}
    budget_base = 40 if args.quick else args.baseline_budget
    plan = [("guided-meta", "guided", args.budget, str(model_dir)),
            ("hierarchical", "hierarchical", args.budget, str(model_dir)),
            ("evolution", "evolution", budget_base, None),
            ("random", "random", budget_base, None)]
    for i, (name, strategy, budget, model) in enumerate(plan, start=2):
        print(f"[{min(i, 3)}/4] {name}: {budget} evaluations on {args.target}", flush=True)
        runs[name] = run_search(SearchConfig(space="nas-bench-graph", task=args.target, strategy=strategy, budget=budget,
                                             model=model, seed=args.seed, out=str(out / name), progress=True))

    # 4. report
    print("[4/4] report", flush=True)
    summary = summary_frame(runs)
    atomic_write_text(out / "summary.csv", summary.to_csv(index=False))
    records = records_optimum(table, args.target)
    shared = shared_prefix(runs["evolution"].trajectory, runs["random"].trajectory)
    plot(runs, records, out / "pipeline.png", args.target, args.budget,
         f"random and evolution coincide for their first {shared} evaluations: evolution's initial population is "
         "random, drawn with the same seed" if shared else "")
    g, h = runs["guided-meta"], runs["hierarchical"]
    seconds = time.perf_counter() - t0
    text = "\n".join([
        f"# Meta-NAS pipeline: NAS-Bench-Graph, target {args.target}", "",
        f"- meta-trained on {', '.join(train)} ({iters} iterations, {t_meta:.0f}s); checkpoint: `{model_dir}`",
        f"- guided search: {g.evaluations} evaluations of {args.target} (5 support measurements included), "
        f"predictor scoring {g.scored_per_second or 0:,.0f} candidates/s",
        f"- guided search's pick (best valid_perf it measured): `{g.best_arch}` valid_perf={g.best_value:.4f}, "
        f"test_perf={g.best_test:.4f}",
        f"- hierarchical search: {h.evaluations} evaluations, pick `{h.best_arch}` valid_perf={h.best_value:.4f}, "
        f"test_perf={h.best_test:.4f}; predictor calls (candidates scored) {h.info.get('scored', 0):,} vs guided "
        f"search's {g.info.get('scored', 0):,}",
        f"- all {records['n']:,} archs of {args.target} in the records:",
        f"  - best valid_perf: `{records['valid_arch']}` valid_perf={records['valid_best']:.4f}, "
        f"test_perf={records['valid_arch_test']:.4f} (the target a valid_perf search aims at)",
        f"  - best test_perf: `{records['test_arch']}` test_perf={records['test_best']:.4f}, "
        f"valid_perf={records['test_arch_valid']:.4f}"
        + (" (the same arch)" if records["same_arch"] else " (another arch: no search on valid_perf is meant to find it)"),
        f"- random search and regularized evolution share their first {shared} evaluations: evolution starts from "
        "a random initial population (20 archs by default) drawn from the same seeded stream as random search, so "
        "their rows coincide up to there and differ only after it (a paired comparison, not a coincidence).",
        f"- total time {seconds:.0f}s",
        *([f"- {args.target} was held out of meta-training, but it is one of the validation targets the search "
           "defaults (acquisition, hierarchical options) were chosen on: the held-out comparison over 25 seeds and "
           "every target is experiments/results/search_efficiency.md"] if args.target in VALIDATION_TARGETS else []),
        "",
        "Best valid_perf found so far after n evaluations, and the test_perf of that arch (it can drop when a "
        "later arch has a better valid_perf but a worse test_perf):", "",
        markdown_table(summary), "",
        "![search trajectories](pipeline.png)", "",
        "Per-run reports: " + ", ".join(f"[{n}]({n}/report.md)" for n in runs), ""])
    atomic_write_text(out / "report.md", text)
    print(markdown_table(summary))
    print(f"report: {out / 'report.md'} ({seconds:.0f}s)")
    return 0


def summary_frame(runs: dict) -> pd.DataFrame:
    rows = []
    for name, r in runs.items():
        for n in sorted({b for b in REPORT_AT if b <= r.evaluations} | {r.evaluations}):
            h = r.trajectory.iloc[n - 1]
            rows.append({"method": name, "evaluations": n, "best valid_perf so far": h["best_value"],
                         "test_perf of that arch": h["best_test"], "arch": h["best_arch"]})
    return pd.DataFrame(rows)


def records_optimum(table, target: str) -> dict:
    """The records' best-valid arch (with its test value) and best-test arch (with its valid value)."""
    valid, test = table.series(target, "valid_perf"), table.series(target, "test_perf")
    va, ta = valid.idxmax(), test.idxmax()
    return {"n": len(valid), "valid_arch": va, "valid_best": float(valid[va]), "valid_arch_test": float(test[va]),
            "test_arch": ta, "test_best": float(test[ta]), "test_arch_valid": float(valid[ta]), "same_arch": va == ta}


def shared_prefix(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """How many leading evaluations two runs have in common (same arch at every position)."""
    n = 0
    for x, y in zip(a["key"], b["key"]):
        if x != y:
            break
        n += 1
    return n


def plot(runs: dict, records: dict, path: Path, target: str, budget: int, note: str = "") -> None:
    """Save :func:`figure` as a PNG."""
    import matplotlib.pyplot as plt

    fig = figure({n: r.trajectory for n, r in runs.items()}, records, target, budget, note)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def figure(trajectories: dict[str, pd.DataFrame], records: dict, target: str, budget: int, note: str = ""):
    """Two panels: the best valid_perf found so far (monotone: what the search maximises) and the
    test_perf of that arch (not monotone), each with the records' reference lines; legend below both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_v, ax_t) = plt.subplots(1, 2, figsize=(11, 4.6), dpi=120)
    for name, t in trajectories.items():
        x, style = np.arange(1, len(t) + 1), STYLE.get(name, {})
        for ax, col in ((ax_v, "best_value"), (ax_t, "best_test")):
            y = t[col].to_numpy(dtype=float)
            ax.step(x, y, where="post", label=f"{name} ({len(t)} evaluations)" if ax is ax_v else None, **style)
            ax.plot(x[-1:], y[-1:], "o", ms=5, color=style.get("color"))  # the last step has no width
    ref = dict(lw=1, color="k")
    ax_v.axhline(records["valid_best"], ls="-.", label=f"records: best valid_perf ({records['valid_best']:.4f})", **ref)
    ax_t.axhline(records["valid_arch_test"], ls="-.",
                 label=f"records: test_perf of the best-valid arch ({records['valid_arch_test']:.4f})", **ref)
    ax_t.axhline(records["test_best"], ls=(0, (1, 3)), alpha=0.7,
                 label=f"records: best test_perf, {'the same' if records['same_arch'] else 'another'} arch "
                       f"({records['test_best']:.4f})", **ref)
    for ax in (ax_v, ax_t):
        _fit_ylim(ax)
        ax.axvline(budget, color="0.6", lw=0.8)
        ax.set_xscale("log")
        ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= max(len(t_) for t_ in trajectories.values())]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xticks([], minor=True)
        ax.set_xlabel("evaluations of the target (log scale; grey line: guided budget)")
        ax.grid(alpha=0.3)
    ax_v.set_ylabel("valid_perf")
    ax_v.set_title("best valid_perf found so far", fontsize=10)
    ax_t.set_ylabel("test_perf")
    ax_t.set_title("test_perf of the arch with the best valid_perf so far", fontsize=10)
    fig.suptitle(f"NAS-Bench-Graph, {target} held out: guided and hierarchical search vs baselines (one seed)",
                 fontsize=11)
    (hv, lv), (ht, lt) = ax_v.get_legend_handles_labels(), ax_t.get_legend_handles_labels()
    fig.legend(hv + ht, lv + lt, loc="lower center", bbox_to_anchor=(0.5, 0.045), ncol=3, fontsize=8, frameon=False)
    if note:
        fig.text(0.5, 0.012, note, ha="center", fontsize=7.5, color="0.3")
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig


def _fit_ylim(ax) -> None:
    """Every plotted value from the first evaluation on, and every reference line, inside the axes."""
    ys = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()])
    ys = ys[np.isfinite(ys)]
    lo, hi = ys.min(), ys.max()
    pad = 0.05 * (hi - lo) if hi > lo else 0.01
    ax.set_ylim(lo - pad, hi + pad)


if __name__ == "__main__":
    sys.exit(main())
