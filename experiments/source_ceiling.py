"""What the source tasks alone can give on NB-201: every mix of the two other datasets' ranks, scored on all cells.

    python experiments/source_ceiling.py [--dest experiments/results]

For each NB-201 dataset as the target, the prediction ``w x rank(source a) + (1 - w) x rank(source b)`` (200-epoch
test accuracy ranks of the other two datasets, w = 0, 0.1, ..., 1) is scored against the target's 200-epoch test
accuracy on all 15,625 cells: Kendall tau, tau within the true top 5% and precision at 1% (the predictor-quality
report's metrics). The best w uses the target's values (an oracle, no support set could choose it better than
this): it bounds what any predictor that only weighs the sources can reach, with no support data at all. A
diagnosis, not a choice (no default reads it). Writes ``source_ceiling.md`` / ``.csv`` to ``--dest``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from surrogate_nas.benchmarks import load_benchmark
from surrogate_nas.benchmarks.ranks import average_ranks
from surrogate_nas.predictors.metrics import kendall_tau, kendall_tau_top, precision_at

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")


def rows() -> list[dict]:
    table = load_benchmark("nb201")
    archs = table.space.enumerate()
    y = {d: table.vector(d, "test_acc", archs) for d in DATASETS}
    out = []
    for target in DATASETS:
        a, b = (d for d in DATASETS if d != target)
        ok = np.isfinite(y[target]) & np.isfinite(y[a]) & np.isfinite(y[b])
        ra, rb, t = average_ranks(y[a][ok]), average_ranks(y[b][ok]), y[target][ok]
        for w in np.round(np.linspace(0, 1, 11), 1):
            p = w * ra + (1 - w) * rb
            out.append({"target": target, "source_a": a, "source_b": b, "w_a": w, "kendall_tau": kendall_tau(t, p),
                        "kendall_tau_top5": kendall_tau_top(t, p), "precision_at_1pct": precision_at(t, p)})
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dest", help="write source_ceiling.md/.csv here")
    args = ap.parse_args(argv)
    df = pd.DataFrame(rows())
    best = df.groupby("target")[["kendall_tau", "kendall_tau_top5", "precision_at_1pct"]].max()
    text = ("# NB-201: what weighing the two source datasets' ranks can give (all cells, oracle weight)\n\n"
            "`python experiments/source_ceiling.py`; prediction = w x rank(source a) + (1 - w) x rank(source b).\n\n"
            + df.round(3).to_markdown(index=False) + "\n\n## Best over w, per metric\n\n" + best.round(3).to_markdown()
            + "\n")
    print(text)
    if args.dest:
        df.to_csv(Path(args.dest) / "source_ceiling.csv", index=False)
        (Path(args.dest) / "source_ceiling.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
