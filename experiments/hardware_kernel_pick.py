"""The hardware default's kernel chosen once per ensemble by its members' meta-validation, measured and judged by the
rule of ``experiments/configs/hardware-kernel-ensemble-s0.yaml``.

The candidate's ensemble for a (target, meta-seed triple) is the linear ensemble (the hardware default) or the RBF
ensemble of the same meta seeds: the one whose members' mean best meta-validation tau is higher (the linear one on a
tie). Meta-training a member does not depend on the pick, so its rows are the picked run's rows.

* ``--cpu``: ``latency_transfer.csv`` of a run with ``meta/default`` and ``meta/default:kernel=rbf`` (column
  ``val_tau``), meta seeds one per triple.
* ``--linear`` / ``--rbf``: ``surrogate-nas experiment run predictor-quality`` directories, one per triple in the same
  order, of NAS-Bench-Graph ``latency`` on the validation datasets with ``meta-dkt-ens`` (linear and RBF kernel); the
  members' taus are read from each run's ``checkpoints/<benchmark>/<target>/dkt-seed*/config.json``.

    python experiments/hardware_kernel_pick.py --cpu CPU/latency_transfer.csv --linear LIN0,LIN7,LIN14 \\
        --rbf RBF0,RBF7,RBF14 --name hardware_kernel_ensemble --dest experiments/results
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from surrogate_nas.io import atomic_write_text

CPU_LINEAR, CPU_RBF = "meta/default", "meta/default:kernel=rbf"
METHOD = "meta-dkt-ens"
MEASURES = ("kendall_tau", "kendall_tau_top", "precision_at_1pct")


def cpu_rows(path: str) -> pd.DataFrame:
    """Per (target, meta seed, seed): linear and picked Spearman, and the pick."""
    df = pd.read_csv(path)
    lin = df[df.method == CPU_LINEAR].set_index(["target", "meta_seed", "seed"])
    rbf = df[df.method == CPU_RBF].set_index(["target", "meta_seed", "seed"])
    if lin.empty or rbf.empty or "val_tau" not in df:
        raise SystemExit(f"{path}: needs rows of {CPU_LINEAR!r} and {CPU_RBF!r} with a val_tau column")
    rbf = rbf.loc[lin.index]
    pick_rbf = rbf["val_tau"] > lin["val_tau"]
    picked = rbf["spearman_rho"].where(pick_rbf, lin["spearman_rho"])
    out = pd.DataFrame({"linear": lin["spearman_rho"], "picked": picked, "pick": np.where(pick_rbf, "rbf", "linear"),
                        "val_tau_linear": lin["val_tau"], "val_tau_rbf": rbf["val_tau"]}).reset_index()
    return out.assign(difference=out.picked - out.linear)


def member_taus(run: Path, benchmark: str, target: str, kernel: str) -> float:
    """Mean best meta-validation tau of the ensemble's members (``dkt-seed*`` checkpoints) of ``target`` in ``run``,
    after checking they were meta-trained with ``kernel``."""
    where = run / "checkpoints" / benchmark / target
    dirs = sorted(d for d in where.iterdir() if re.fullmatch(r"dkt-seed\d+", d.name))
    if not dirs:
        raise SystemExit(f"{run}: no dkt-seed* checkpoints of {benchmark}/{target}")
    taus = []
    for d in dirs:
        cfg = json.loads((d / "config.json").read_text())
        if cfg["meta"]["kernel"] != kernel:
            raise SystemExit(f"{d}: kernel {cfg['meta']['kernel']!r}, expected {kernel!r}")
        taus.append(cfg["info"]["best_val_tau"])
    return float(np.mean(taus))


def nbg_rows(linear: list[str], rbf: list[str]) -> pd.DataFrame:
    """Per (triple, target, K, seed): each measure of the linear and the picked ensemble, and the pick."""
    parts = []
    for t, (ld, rd) in enumerate(zip(linear, rbf)):
        a = pd.read_csv(Path(ld) / "predictor_quality.csv")
        b = pd.read_csv(Path(rd) / "predictor_quality.csv")
        keys = ["benchmark", "target_task", "k", "seed"]
        a = a[a.method == METHOD].set_index(keys)
        b = b[b.method == METHOD].set_index(keys).loc[a.index]
        for (bench, target), idx in a.groupby(level=["benchmark", "target_task"]).groups.items():
            lt, rt = member_taus(Path(ld), bench, target, "linear"), member_taus(Path(rd), bench, target, "rbf")
            src = b if rt > lt else a
            rows = pd.DataFrame({f"{m}_linear": a.loc[idx, m] for m in MEASURES})
            for m in MEASURES:
                rows[f"{m}_picked"] = src.loc[idx, m]
            parts.append(rows.reset_index().assign(triple=t, pick="rbf" if rt > lt else "linear",
                                                   val_tau_linear=lt, val_tau_rbf=rt))
    out = pd.concat(parts, ignore_index=True)
    for m in MEASURES:
        out[f"{m}_difference"] = out[f"{m}_picked"] - out[f"{m}_linear"]
    return out


def judge(cpu: pd.DataFrame, nbg: pd.DataFrame, meta_seeds: list[int]) -> tuple[list[str], bool]:
    """The rule's figures and conditions (hardware-kernel-ensemble-s0.yaml), as report lines, and the verdict."""
    d_cpu = cpu.groupby("meta_seed")["difference"].mean().loc[meta_seeds].to_numpy()
    d_nbg = nbg.groupby("triple")["kendall_tau_difference"].mean().sort_index().to_numpy()
    o = (d_cpu + d_nbg) / 2
    se = o.std(ddof=1) / np.sqrt(len(o))
    per_k = nbg.groupby("k")["kendall_tau_difference"].mean()
    worst = min(float(d_cpu.mean()), float(per_k.min()))
    top = nbg.groupby("triple")["kendall_tau_top_difference"].mean().to_numpy()
    top_se = top.std(ddof=1) / np.sqrt(len(top))
    conds = {
        "(1) D_b >= -0.002 on both tables": d_cpu.mean() >= -0.002 and d_nbg.mean() >= -0.002,
        "(2) worst mean difference over (table, K) >= -0.005": worst >= -0.005,
        "(3) mean of o_t > 2 se": o.mean() > 2 * se,
        "(4) NAS-Bench-Graph top-5% tau difference > -2 se": top.mean() > -2 * top_se,
    }
    fmt = " / ".join
    lines = [
        f"- d_cpu per triple {fmt(f'{v:+.4f}' for v in d_cpu)}; D_cpu {d_cpu.mean():+.4f}",
        f"- d_nbg per triple {fmt(f'{v:+.4f}' for v in d_nbg)}; D_nbg {d_nbg.mean():+.4f}; per K "
        + fmt(f"{k}: {v:+.4f}" for k, v in per_k.items()),
        f"- o_t {fmt(f'{v:+.4f}' for v in o)}; mean {o.mean():+.4f}, se {se:.4f}",
        f"- worst mean difference over (table, K) {worst:+.4f}",
        f"- NAS-Bench-Graph top-5% tau difference per triple {fmt(f'{v:+.4f}' for v in top)}; mean {top.mean():+.4f}, "
        f"se {top_se:.4f}; precision@1% {nbg['precision_at_1pct_difference'].mean():+.4f}",
        "",
        *(f"- {name}: {'passes' if ok else 'fails'}" for name, ok in conds.items()),
    ]
    return lines, all(conds.values())


def picks(rows: pd.DataFrame, keys: list[str], linear: str, picked: str) -> pd.DataFrame:
    """Per ``keys`` (a target and a triple): the pick, the two kernels' mean member taus and the mean score of the
    linear and the picked ensemble (columns ``linear`` and ``picked`` of ``rows``)."""
    first = {c: (c, "first") for c in ("pick", "val_tau_linear", "val_tau_rbf")}
    return rows.groupby(keys).agg(**first, linear=(linear, "mean"), picked=(picked, "mean"))


def report(cpu: pd.DataFrame, nbg: pd.DataFrame, meta_seeds: list[int], command: str) -> str:
    picks_cpu = picks(cpu, ["target", "meta_seed"], "linear", "picked")
    picks_nbg = picks(nbg, ["target_task", "triple"], "kendall_tau_linear", "kendall_tau_picked")
    lines, adopted = judge(cpu, nbg, meta_seeds)
    return "\n".join([
        "# The hardware kernel chosen once per ensemble by its members' meta-validation", "",
        "Rule: `experiments/configs/hardware-kernel-ensemble-s0.yaml`. The candidate's ensemble per (target, meta-seed "
        "triple) is the linear one (the hardware default) or the RBF one, whichever its members' mean best "
        "meta-validation tau favours (linear on a tie).", "",
        "## CPU latency table, validation settings (K = 10, Spearman)", "",
        picks_cpu.round(4).to_markdown(), "",
        "## NAS-Bench-Graph latency, validation datasets (Kendall tau, mean over K = 5..100 and seeds)", "",
        picks_nbg.round(4).to_markdown(), "",
        "## The rule", "", *lines, "",
        f"**Verdict: {'adopted' if adopted else 'not adopted, the linear kernel stays'}.**", "",
        f"Command: `{command}`", "",
    ])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu", required=True)
    ap.add_argument("--linear", required=True, help="comma-separated run directories, one per triple")
    ap.add_argument("--rbf", required=True, help="comma-separated run directories, the same triples in order")
    ap.add_argument("--name", default="hardware_kernel_ensemble")
    ap.add_argument("--dest", type=Path)
    args = ap.parse_args(argv)
    linear, rbf = args.linear.split(","), args.rbf.split(",")
    if len(linear) != len(rbf) or len(linear) < 2:
        ap.error("--linear and --rbf need the same number (>= 2) of run directories")
    cpu = cpu_rows(args.cpu)
    meta_seeds = sorted(cpu.meta_seed.unique())
    if len(meta_seeds) != len(linear):
        ap.error(f"--cpu has meta seeds {meta_seeds}: one per triple of --linear expected")
    nbg = nbg_rows(linear, rbf)
    command = " ".join(["python experiments/hardware_kernel_pick.py", *(argv if argv is not None else sys.argv[1:])])
    md = report(cpu, nbg, meta_seeds, command)
    print(md)
    if args.dest:
        atomic_write_text(args.dest / f"{args.name}.md", md)
        atomic_write_text(args.dest / f"{args.name}.csv", pd.concat(
            [cpu.assign(table="cpu"), nbg.assign(table="nas-bench-graph")], ignore_index=True).to_csv(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
