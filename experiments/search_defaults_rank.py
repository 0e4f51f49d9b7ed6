"""Apply a search-defaults round's decision rule to its results (``search_efficiency.csv`` of a tuning run).

Rule (stated in ``experiments/configs/search-defaults-4.yaml`` before the run): per validation target, rank the
candidates of one choice by the median reported value at 10, 20 and 50 evaluations (higher is better, ties share
the mean rank), average the three ranks; the choice is the lowest mean over the targets; an exact tie keeps the
current default.

    python experiments/search_defaults_rank.py RUN/search_efficiency.csv \
        --choice guided:guided-meta=thompson,guided-ei=ei,guided-ucb=ucb,guided-mean=mean --default thompson
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

BUDGETS = (10, 20, 50)


def mean_ranks(res: pd.DataFrame, methods: dict[str, str]) -> pd.DataFrame:
    """Rows: targets (and 'overall'); columns: the candidates' names; values: mean rank over ``BUDGETS``."""
    sub = res[res["method"].isin(methods) & res["evaluations"].isin(BUDGETS)]
    med = sub.groupby(["benchmark", "target_task", "evaluations", "method"])["best_test"].median().unstack("method")
    ranks = med.rank(axis=1, ascending=False, method="average")
    per_target = ranks.groupby(level=["benchmark", "target_task"]).mean().rename(columns=methods)
    per_target.loc[("all", "overall"), :] = per_target.mean()
    return per_target


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--choice", action="append", required=True,
                    help="NAME:method=label,method=label (the candidates of one choice)")
    ap.add_argument("--default", action="append", required=True, help="the current default's label, per --choice")
    args = ap.parse_args(argv)
    res = pd.read_csv(args.csv)
    for choice, default in zip(args.choice, args.default):
        name, _, spec = choice.partition(":")
        methods = dict(pair.split("=") for pair in spec.split(","))
        table = mean_ranks(res, methods)
        overall = table.loc[("all", "overall")]
        best = overall[overall == overall.min()].index.tolist()
        chosen = default if default in best else best[0]
        print(f"## {name}: mean rank of the median reported value at {', '.join(map(str, BUDGETS))} evaluations\n")
        print(table.round(3).to_markdown())
        tie = f" (tied: {', '.join(best)}; the current default stays)" if len(best) > 1 and default in best else ""
        print(f"\n{name}: {chosen}{tie}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
