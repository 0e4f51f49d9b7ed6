"""Share of search seeds that hold the NB-201 protocol's ceiling cell after N evaluations, and NAS-Bench-Graph's
reported value at 20 evaluations against regularized evolution at 200, from a search-efficiency run directory.

The ceiling cell is the cell with the best 12-epoch validation accuracy of the target (its 200-epoch test accuracy
is the protocol's ceiling); a seed holds it after N evaluations when its best-valid architecture so far is that cell
(or a string isomorphic to it with the same validation accuracy). Prints markdown.

    python experiments/search_ceiling_share.py RUN_DIR [--budgets 5,10,20,50,100]
    python experiments/search_ceiling_share.py --csv experiments/results/search_efficiency.csv

(``--csv``: a report's stored ``search_efficiency.csv``: its budgets only, and NAS-Bench-Graph only, since it does not
name the NB-201 search metric.)
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from surrogate_nas.experiment.runner import search_efficiency_results
from surrogate_nas.search.benchmark_tables import cached_benchmark


def ceiling_share(traj: pd.DataFrame, budgets: list[int]) -> pd.DataFrame:
    """Rows: (target, method); columns: share of seeds holding the ceiling cell at each budget (NaN beyond the
    method's budget) and the median reported value at 10."""
    table = cached_benchmark("nb201")
    rows = []
    for (task, metric), t in traj[traj["benchmark"] == "nb201"].groupby(["target_task", "metric"], sort=False):
        best_valid = float(table.series(task, metric).max())
        for method, m in t.groupby("method", sort=False):
            row = {"target": task, "method": method}
            for n in budgets:
                at = m[m["evaluation"] <= n].groupby("seed")["best_value"].max()
                full = m.groupby("seed")["evaluation"].max() >= n
                row[f"@{n}"] = float((at >= best_valid - 1e-9).mean()) if full.all() else np.nan
            row["median test@10"] = m[m["evaluation"] == 10]["best_test"].median()
            rows.append(row)
    return pd.DataFrame(rows)


def nbg_at_20(traj: pd.DataFrame, column: str = "best_test") -> pd.DataFrame:
    """Per NAS-Bench-Graph target: each method's median reported value (``column="best_value"``: search metric) at 20
    evaluations and evolution's at 200."""
    t = traj[traj["benchmark"] == "nas-bench-graph"]
    if t.empty:
        return pd.DataFrame()
    at = t.groupby(["target_task", "method", "seed", "evaluation"])[column].first().unstack("evaluation")
    out = at[20].groupby(["target_task", "method"]).median().unstack("method")
    if "evolution" in out:
        evo = at[200].xs("evolution", level="method").groupby("target_task").median()
        out["evolution@200"] = evo
    table = cached_benchmark("nas-bench-graph")  # what finding the best-valid architecture reports (or finds)
    metric = "test_perf" if column == "best_test" else "valid_perf"
    out[f"{metric} of the best-valid arch"] = [
        float(table.series(t, metric)[table.series(t, "valid_perf").idxmax()]) for t in out.index
    ]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?")
    ap.add_argument("--csv", help="a report's search_efficiency.csv instead of a run directory")
    ap.add_argument("--budgets", default="5,10,20,50,100")
    args = ap.parse_args(argv)
    if (args.csv is None) == (args.run_dir is None):
        ap.error("give a run directory or --csv")
    if args.csv:
        traj = pd.read_csv(args.csv).rename(columns={"evaluations": "evaluation"})
    else:
        traj = search_efficiency_results(args.run_dir)[0]
    share = pd.DataFrame()
    if "metric" in traj:  # a stored csv does not name the NB-201 search metric: its ceiling share needs the run
        share = ceiling_share(traj, [int(b) for b in args.budgets.split(",")])
    if len(share):
        print("## NB-201: share of seeds holding the protocol's ceiling cell\n")
        print(share.to_markdown(index=False, floatfmt=".2f"))
    for column, what in (("best_test", "reported value (test_perf)"), ("best_value", "search metric (valid_perf)")):
        nbg = nbg_at_20(traj, column)
        if not len(nbg):
            continue
        print(f"\n## NAS-Bench-Graph: median {what} of the best-valid arch at 20 evaluations (evolution also at 200)\n")
        print(nbg.to_markdown(floatfmt=".4f"))
        if "evolution@200" in nbg:
            methods = [m for m in nbg.columns if m != "evolution@200" and "best-valid" not in m]
            wins = {m: int((nbg[m] >= nbg["evolution@200"]).sum()) for m in methods}
            print("\n@20 >= evolution@200 on: " + ", ".join(f"{m} {w}/{len(nbg)}" for m, w in wins.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
