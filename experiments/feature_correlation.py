"""How well does each free architecture feature rank the architectures of each task? (issue #11)

Spearman's rho of every free feature with every task's accuracy over all records:

- NB-201: the 7 features of ``data/nb201/free_features.csv.xz`` (one row per canonical class) against
  ``test_acc`` on cifar10, cifar100 and ImageNet16-120 -- over all 15,625 cells (each cell takes its class's
  features) and over the 6,466 classes (a class's accuracy = the mean of its cells'); the published values
  over all cells (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021, Table 1 / Fig. 2)
  beside them.
- NAS-Bench-Graph: each dataset's own ``params`` and ``latency`` against its ``valid_perf`` and ``test_perf``.

No target value is an input anywhere: a feature is only compared with the accuracy afterwards.

    python experiments/feature_correlation.py [--features PATH] [--out experiments/results]

Writes ``feature_correlation.md`` and ``feature_correlation.csv`` under ``--out``. Without the NB-201 table
(``--features`` or the shipped one) only the NAS-Bench-Graph part is reported.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from surrogate_nas.benchmarks import load_benchmark
from surrogate_nas.errors import DataError
from surrogate_nas.features import NB201_FEATURES, available_features, free_features, read_features
from surrogate_nas.io import atomic_write_text

#: Published Spearman rho with NB-201 test accuracy over all cells (CIFAR-10, CIFAR-100, ImageNet16-120),
#: Abdelfattah et al. 2021 (ICLR), the zero-cost proxies paper, as quoted in issue #11 (approximate, "~").
#: None: no value quoted there (not filled in from memory).
PUBLISHED = {
    "params": (None, None, None),
    "flops": (None, None, None),
    "synflow": (0.74, 0.76, 0.75),
    "snip": (None, None, None),
    "grad_norm": (0.59, 0.64, 0.58),
    "jacob_cov": (0.73, 0.70, 0.70),
    "naswot": (None, None, None),
}
NB201_TASKS = ("cifar10", "cifar100", "ImageNet16-120")


def rho(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    ok = ~(np.isnan(a) | np.isnan(b))
    if ok.sum() < 3:
        return float("nan"), int(ok.sum())
    return float(spearmanr(a[ok], b[ok])[0]), int(ok.sum())


def nb201_rows(features_path: str | None) -> tuple[list[dict], dict[str, str]]:
    try:
        frame, meta = read_features(features_path)
    except DataError as e:
        print(f"NB-201: no features table ({e}); skipped")
        return [], {}
    table = load_benchmark("nb201")
    archs = table.archs(NB201_TASKS[0], "test_acc")
    keys = [table.space.canonical(a) for a in archs]
    # the shipped features: params / FLOPs per string (each cell's own network), proxies per class
    feats = free_features(table, NB201_TASKS[0], archs, source=frame if features_path else None)
    rows = []
    for t_i, task in enumerate(NB201_TASKS):
        acc = table.vector(task, "test_acc", archs)
        by_class = pd.DataFrame({"key": keys, "acc": acc}).groupby("key")["acc"].mean()
        cls_feats = frame.reindex(by_class.index)
        for j, name in enumerate(NB201_FEATURES):
            r_cells, n_cells = rho(feats[:, j], acc)
            r_cls, n_cls = rho(cls_feats[name].to_numpy(dtype=float), by_class.to_numpy(dtype=float))
            rows.append({"benchmark": "nb201", "task": task, "metric": "test_acc", "feature": name,
                         "spearman_cells": r_cells, "n_cells": n_cells, "spearman_classes": r_cls,
                         "n_classes": n_cls, "published_cells": PUBLISHED[name][t_i]})
    return rows, meta


def nbg_rows() -> list[dict]:
    table = load_benchmark("nas-bench-graph")
    rows = []
    for task in table.tasks:
        archs = table.archs(task, "valid_perf")
        names = available_features(table, task)
        for metric in ("valid_perf", "test_perf"):
            acc = table.vector(task, metric, archs)
            feats = free_features(table, task, archs, names, metric=metric)
            for j, name in enumerate(names):
                r, n = rho(feats[:, j], acc)
                rows.append({"benchmark": "nas-bench-graph", "task": task, "metric": metric, "feature": name,
                             "spearman_cells": r, "n_cells": n, "spearman_classes": np.nan, "n_classes": np.nan,
                             "published_cells": None})
    return rows


def _f(v) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


def markdown(df: pd.DataFrame, meta: dict[str, str], seconds: float) -> str:
    out = ["# Free architecture features: Spearman rho with accuracy", "",
           "Written by `python experiments/feature_correlation.py` "
           f"({seconds:.0f} s). Over all records; no accuracy is an input to any feature.", ""]
    nb = df[df["benchmark"] == "nb201"]
    if len(nb):
        out += ["## NB-201 (test_acc, 200 epochs)", "",
                f"Features: `data/nb201/free_features.csv.xz` -- dataset {meta.get('dataset', '?')}, batch "
                f"{meta.get('batch_size', '?')}, seed {meta.get('seed', '?')}, input {meta.get('input_resolution', '?')}, "
                f"{meta.get('network', '')}. Cells: all {int(nb['n_cells'].max())} cells, each with its class's "
                f"features; classes: the {int(nb['n_classes'].max())} canonical classes, accuracy averaged over "
                "a class's cells. Published: Abdelfattah et al. 2021 as quoted in issue #11 (over all cells, "
                "computed on each task's own images; ours use one fixed batch for every task).", "",
                "| feature | " + " | ".join(f"{t} cells | {t} classes | {t} published" for t in NB201_TASKS) + " |",
                "|---|" + "---:|" * (3 * len(NB201_TASKS))]
        for name in NB201_FEATURES:
            cells = []
            for task in NB201_TASKS:
                r = nb[(nb["task"] == task) & (nb["feature"] == name)].iloc[0]
                cells += [_f(r["spearman_cells"]), _f(r["spearman_classes"]), _f(r["published_cells"])]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    g = df[df["benchmark"] == "nas-bench-graph"]
    if len(g):
        out += ["## NAS-Bench-Graph (each dataset's own params and latency)", "",
                "| dataset | params vs valid | params vs test | latency vs valid | latency vs test | archs |",
                "|---|---:|---:|---:|---:|---:|"]
        for task in sorted(g["task"].unique()):
            def get(f, m):
                return _f(g[(g["task"] == task) & (g["feature"] == f) & (g["metric"] == m)]["spearman_cells"].iloc[0])
            n = int(g[g["task"] == task]["n_cells"].max())
            out.append(f"| {task} | {get('params', 'valid_perf')} | {get('params', 'test_perf')} | "
                       f"{get('latency', 'valid_perf')} | {get('latency', 'test_perf')} | {n} |")
        out.append("")
    return "\n".join(out)


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", default=None, help="an NB-201 features table (default: the shipped one)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    ap.add_argument("--no-nbg", action="store_true", help="skip NAS-Bench-Graph")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows, meta = nb201_rows(args.features)
    if not args.no_nbg:
        rows += nbg_rows()
    df = pd.DataFrame(rows)
    md = markdown(df, meta, time.perf_counter() - t0)
    print(md)
    out = Path(args.out)
    atomic_write_text(out / "feature_correlation.md", md + "\n")
    atomic_write_text(out / "feature_correlation.csv", df.to_csv(index=False, float_format="%.4f"))
    return df


if __name__ == "__main__":
    main()
