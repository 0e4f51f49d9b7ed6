"""Real training end to end on a task no benchmark holds: the NB-201 cell space trained on scikit-learn's digits.

Why digits: it ships with a dependency (scikit-learn), so the run needs no download, and 1,797 8x8 images train an
NB-201 network (C=8, N=1: the toolkit's digits recipe) in about a second on one CPU core; no NAS record of digits
exists anywhere, so the meta-predictor meets a new task. CIFAR-10 at NB-201 sizes would take hours per cell here.

1. Pretrain the default meta-predictor (3 deep-kernel members) on the NB-201 records of cifar10, cifar100 and
   ImageNet16-120 (``surrogate-nas pretrain --target digits``).
2. Per search seed, through ``run_search`` with ``evaluator="train"`` on a local Ray instance (2 CPUs; rounds of 2
   candidates, one Ray task each), every search selecting on the validation split (20% of the training images) and
   reporting the test split:
   * ``guided-mf`` (the default with screening): 5 support cells and guided screening at 1 epoch, ASHA promotion of
     the top third to the full 10-epoch schedule;
   * ``asha``: the same brackets with random screening (no predictor);
   * ``evolution``: regularized evolution (population 10, tournament 3) at the full 10 epochs;
   * ``guided``: guided search at the full 10 epochs;
   * ``guided-cheap`` and ``evolution-cheap``: the same at 1 epoch only (promote nothing: the chosen cell is the
     best 1-epoch one, as the published NB-201 protocol selects on its cheap fidelity).
   The baselines get guided-mf's wall clock: a budget of 2 x guided-mf's wall seconds of training (what the
   2 workers train in that time; guided-mf's predictor time counts against it).
3. Verify each search's top 3 (by validation accuracy at its highest fidelity: 10 epochs, or 1 epoch for the
   1-epoch-only ones; top 1 with --quick) with 3 fresh training seeds of the full 10 epochs on the whole training
   split; the chosen cell is the search's best.
4. Rank: the meta-predictor adapted on the 5 support cells only, Kendall tau against every other cell trained.

A search's cost is the sum of its trainings' measured seconds; each run's wall clock (from its journal) is reported
beside it. Search seed s trains every candidate with training seed s (so seeds differ in the training noise too).
Rerunning the command resumes: searches replay their journals, trainings that finished are read from their result
files.

    python experiments/end_to_end_digits.py                     # 3 seeds, experiments/results/end_to_end_digits.*
    python experiments/end_to_end_digits.py --quick --out DIR   # CI smoke (1 seed, small budgets, 1 member)
    python experiments/end_to_end_digits.py --device cuda       # on a GPU: bf16 autocast, channels_last, one GPU
                                                                # per Ray task (Ray gives a CUDA job num_gpus=1)
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from surrogate_nas import raycluster
from surrogate_nas.io import atomic_path, atomic_write_text
from surrogate_nas.search import SearchConfig, run_search
from surrogate_nas.search.report import markdown_table
from surrogate_nas.search.results import top_table

TRAIN = {"valid_fraction": 0.2, "progress": False}
CHEAP, FULL = 1, 10
#: Ray workers (CPUs of the local instance): rounds of this many candidates.
WORKERS = 2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="search seeds (quick: 1)")
    ap.add_argument("--budget", type=int, default=40, help="evaluations of guided-mf (quick: 12)")
    ap.add_argument("--out", default="runs/end-to-end-digits", help="run directory (rerun to resume)")
    ap.add_argument("--dest", default=None, help="write the report here too (e.g. experiments/results)")
    ap.add_argument(
        "--device",
        default="cpu",
        help="cpu, cuda or auto: where candidates train (cuda: bf16 autocast and channels_last, one GPU per Ray task)",
    )
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    TRAIN.update(device_options(a.device))
    if a.quick:
        a.seeds, a.budget = 1, 12
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model, pretrain_s = pretrained(out / "model", a.quick)
    rows, ranks = [], []
    with raycluster.session(num_cpus=WORKERS, what="end_to_end_digits", num_gpus=gpus(a.device)):
        for seed in range(a.seeds):
            runs = searches(out / f"seed{seed}", model, seed, a.budget)
            for method, r in runs.items():
                rows.append(
                    {
                        "seed": seed,
                        "method": method,
                        **summary(r),
                        **verified(r, out / f"seed{seed}", method, 1 if a.quick else 3),
                    }
                )
            ranks.append({"seed": seed, **ranking(runs["guided-mf"], model)})
    res, rank = pd.DataFrame(rows), pd.DataFrame(ranks)
    text = report(res, rank, a, pretrain_s, time.perf_counter() - t0)
    write(out, res, text)
    if a.dest:
        write(Path(a.dest), res, text)
    print(text)
    return 0


def device_options(device: str) -> dict:
    """TrainConfig fields for ``device``: on CUDA bf16 autocast and channels_last (the fast path of the training
    throughput measurements); on the CPU the digits recipe as it is."""
    import torch

    cuda = device.startswith("cuda") or device == "auto" and torch.cuda.is_available()
    return {"device": device, **({"precision": "bf16", "channels_last": True} if cuda else {})}


def gpus(device: str) -> int | None:
    """GPUs the local Ray instance offers: every visible one for a CUDA run, none otherwise."""
    import torch

    return torch.cuda.device_count() if device != "cpu" and torch.cuda.is_available() else 0


def pretrained(path: Path, quick: bool) -> tuple[Path, float]:
    """The meta-predictor's checkpoint directory (pretrained once; reused when it exists) and the seconds it took
    (when reused: the seconds recorded when it was made)."""
    seconds = path.parent / "pretrain_seconds.txt"
    if (path / "pretrain.yaml").is_file():
        return path, float(seconds.read_text()) if seconds.is_file() else float("nan")
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "surrogate_nas.cli", "pretrain", "--benchmark", "nb201", "--target", "digits",
           "--out", str(path), "--no-progress", "--workers", "2"]  # fmt: skip
    if quick:
        cmd += ["--members", "1", "--iterations", "30"]
    subprocess.run(cmd, check=True)
    took = round(time.perf_counter() - t, 1)
    atomic_write_text(seconds, f"{took}\n")
    return path, took


def _config(run: Path, method: str, seed: int, **kw) -> SearchConfig:
    train = {**TRAIN, "seed": seed, **kw.pop("train", {})}
    base = dict(space="nb201", task="digits", evaluator="train", metric="valid_acc", train=train,
                train_backend="ray", batch_size=WORKERS, seed=seed, progress=False, out=str(run / method))  # fmt: skip
    return SearchConfig(**{**base, **kw})


def searches(run: Path, model: Path, seed: int, budget: int) -> dict:
    """The six searches of one seed; the baselines get guided-mf's wall clock (2 workers' training seconds in it)."""
    mf = {"fidelities": [CHEAP, FULL], "n_support": 5}
    runs = {"guided-mf": run_search(_config(run, "guided-mf", seed, strategy="guided-mf", model=str(model),
                                            budget=budget, options=mf))}  # fmt: skip
    seconds = WORKERS * wall_seconds(runs["guided-mf"])
    runs["asha"] = run_search(_config(run, "asha", seed, strategy="asha", budget=200, budget_cost=seconds,
                                      options={"fidelities": [CHEAP, FULL]}))  # fmt: skip
    full = dict(train={"epochs": FULL}, budget=200, budget_cost=seconds)
    runs["evolution"] = run_search(_config(run, "evolution", seed, strategy="evolution",
                                           options={"population": 10, "tournament": 3}, **full))  # fmt: skip
    runs["guided"] = run_search(_config(run, "guided", seed, strategy="guided", model=str(model),
                                        options={"n_support": 5}, **full))  # fmt: skip
    cheap = dict(train={"epochs": CHEAP}, budget=2000, budget_cost=seconds)  # the wall clock binds, not the count
    runs["guided-cheap"] = run_search(_config(run, "guided-cheap", seed, strategy="guided", model=str(model),
                                              options={"n_support": 5}, **cheap))  # fmt: skip
    runs["evolution-cheap"] = run_search(_config(run, "evolution-cheap", seed, strategy="evolution",
                                                 options={"population": 10, "tournament": 3}, **cheap))  # fmt: skip
    return runs


def summary(r) -> dict:
    """What one search spent and chose."""
    t = r.trajectory
    return {
        "chosen": r.best_arch,
        "valid": r.best_value,
        "trained_cheap": int((t["fidelity"] == CHEAP).sum()),
        "trained_full": int((t["fidelity"] == FULL).sum()),
        "train_seconds": float(t["cost"].sum()),
        "wall_seconds": wall_seconds(r),
    }


def wall_seconds(r) -> float:
    """The search's wall clock from its journal (first round's trainings to the last commit), so that a resumed
    run reports the time its evaluations took, not the replay's."""
    con = sqlite3.connect(Path(r.out) / "journal.sqlite")
    try:
        first, last = con.execute("SELECT MIN(timestamp), MAX(timestamp) FROM evals").fetchone()
        first_round = con.execute("SELECT MAX(cost) FROM evals WHERE batch = 0").fetchone()[0]
    finally:
        con.close()
    return float(last - first + first_round)


def verified(r, run: Path, method: str, top_n: int) -> dict:
    """Test accuracy of the chosen cell and of the best of the top ``top_n`` (by validation accuracy at the run's
    highest fidelity) over 3 fresh seeds, trained on the whole training split for the full 10 epochs."""
    from surrogate_nas.training import TrainConfig, VerifyConfig, verify

    archs = list(top_table(r, top_n)["arch"])
    train = TrainConfig(**{k: v for k, v in TRAIN.items() if k != "valid_fraction"})
    cfg = VerifyConfig(dataset="digits", seeds=(100, 101, 102), train=train, backend="ray",
                       backend_options={"progress": False}, out_dir=str(run / method / "verify"))  # fmt: skip
    res = verify(archs, cfg)
    by = res.groupby("arch", sort=False)["test_acc"]
    chosen = by.get_group(archs[0])
    means = by.mean()
    return {
        "test_mean": float(chosen.mean()),
        "test_std": float(chosen.std(ddof=1)),
        "top3_best_mean": float(means.max()),
        "verify_trainings": int(len(res)),
    }


def ranking(r, model: Path) -> dict:
    """Kendall tau of the meta-predictor adapted on the support (the first 5 cheap measurements) against every other
    cell guided-mf trained, at each fidelity."""
    from surrogate_nas.meta.ensemble import load_model
    from surrogate_nas.predictors.inputs import SourceValues
    from surrogate_nas.search.benchmark_tables import cached_benchmark
    from surrogate_nas.search.predictor_factory import predictor_factory

    ck = load_model(model)
    members = ck if isinstance(ck, list) else [ck]
    src = members[0].sources
    table = cached_benchmark("nb201")
    sources = SourceValues(table, tuple(src["tasks"]), src["metric"], src.get("higher_is_better", True))
    fit = predictor_factory("meta", space="nb201", seed=0, checkpoint=ck, sources=sources, task="digits")
    t = r.trajectory
    support = t[t["fidelity"] == CHEAP].head(5)
    p = fit(list(support["arch"]), support["value"].to_numpy())
    out = {}
    for name, fid in (("cheap", CHEAP), ("full", FULL)):
        rest = t[(t["fidelity"] == fid) & ~t["key"].isin(support["key"])]
        pred = np.asarray(p.predict(list(rest["arch"])), dtype=float)
        out[f"tau_{name}"] = float(kendalltau(pred, rest["value"]).statistic) if len(rest) > 2 else float("nan")
        out[f"n_{name}"] = len(rest)
    return out


def report(res: pd.DataFrame, rank: pd.DataFrame, a, pretrain_s: float, total_s: float) -> str:
    med = res.groupby("method", sort=False).median(numeric_only=True)
    mf = res[res["method"] == "guided-mf"].set_index("seed")
    evo = res[res["method"] == "evolution"].set_index("seed")
    vs = versus(res)
    wins = vs.set_index("method").at["evolution", "seeds_mf_at_least"]
    half = int((mf["trained_full"] <= evo["trained_full"] / 2).sum())
    per_seed = res[["seed", "method", "test_mean", "test_std", "top3_best_mean", "valid", "trained_cheap",
                    "trained_full", "train_seconds", "wall_seconds", "chosen"]]  # fmt: skip
    return "\n".join(
        [
            "# End to end on digits: real training, meta-predictor pretrained on NB-201 records",
            "",
            f"`python experiments/end_to_end_digits.py{' --quick' if a.quick else ''}` ({a.seeds} search seed(s); "
            f"guided-mf budget {a.budget} evaluations; cheap {CHEAP} epoch, full {FULL} epochs; a local Ray "
            f"instance, 2 CPUs, rounds of 2). Pretraining: {pretrain_s:.0f} s. This invocation: "
            f"{total_s / 60:.1f} min (pretraining and verification included; a rerun in the same folder replays "
            "finished searches from their journals).",
            "",
            "Test accuracy (%) of each search's chosen cell: mean over 3 verification seeds on the whole training "
            f"split; every other method gets guided-mf's wall clock as training seconds ({WORKERS} workers' training "
            "seconds in it; their own predictor time is not charged), at most 200 evaluations (2,000 for the "
            "1-epoch-only ones). top3_best_mean: the best verified mean of the search's top 3 (top 1 with --quick).",
            "",
            "## Medians over seeds",
            "",
            markdown_table(med.drop(columns="seed").reset_index()),
            "",
            f"Goal: guided-mf's chosen cell >= evolution's at equal wall clock on {wins} seed(s); "
            f"with <= 1/2 of evolution's full-fidelity trainings on {half} of {len(mf)}.",
            "",
            "## guided-mf against each method, per seed",
            "",
            markdown_table(vs),
            "",
            "## Ranking (meta-predictor adapted on the 5 support cells only; Kendall tau on every other cell trained)",
            "",
            markdown_table(rank),
            "",
            "## Every run",
            "",
            markdown_table(per_seed),
            "",
        ]
    )


def versus(res: pd.DataFrame) -> pd.DataFrame:
    """Per method: on how many seeds guided-mf's chosen cell tests at least as well, the range of the margins (test
    points), and guided-mf's full-fidelity trainings as a fraction of the method's."""
    by = res.set_index(["method", "seed"])
    mf = by.loc["guided-mf"]
    rows = []
    for method in res["method"].unique():
        if method == "guided-mf":
            continue
        margin = (mf["test_mean"] - by.loc[method, "test_mean"]).dropna()
        full = by.loc[method, "trained_full"]
        rows.append({
            "method": method,
            "seeds_mf_at_least": f"{int((margin >= 0).sum())} of {len(margin)}",
            "margin_min": margin.min(),
            "margin_max": margin.max(),
            "mf_full_trainings_ratio": (mf["trained_full"] / full.where(full > 0)).median(),
        })  # fmt: skip
    return pd.DataFrame(rows)


def write(dest: Path, res: pd.DataFrame, text: str) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest / "end_to_end_digits.csv") as tmp:
        res.to_csv(tmp, index=False)
    atomic_write_text(dest / "end_to_end_digits.md", text)


if __name__ == "__main__":
    sys.exit(main())
