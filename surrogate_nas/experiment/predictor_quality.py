"""Predictor quality: leave-one-task-out few-shot ranking, every method on the same K support archs.

The grid is benchmark x target x K x seed x method. A cell of the runner is (benchmark, target, K,
seed, group): the methods that adapt the same checkpoint run together (``meta``: meta-gnn,
``multitask``: multitask-finetune), the baselines (no checkpoint) form one group that runs while
the checkpoints train. A cell's numbers equal the old serial script's for the same (target, K, seed,
method): same split, same seed, same checkpoint (meta seed of the config).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..benchmarks import check_isolation
from ..io import atomic_write_text
from .config import held_out_mask

#: table column -> (registered predictor, checkpoint to adapt: "meta", "multitask" or None, options).
#: The multitask initialisation was not meta-learned for the MAML step size, and fine-tuning it with that
#: step diverges on some supports (NB-201 ImageNet16-120, K=10, seed 4: max |parameter| 1.4e8 after 4
#: steps, every prediction non-finite), so it picks its fine-tuning steps by cross-validation on the support.
#: Baselines: the registered predictor of the column's name, no checkpoint (``+ff``: the same reading the target's
#: free features too -- params, FLOPs, zero-cost proxies on NB-201; the dataset's params and latency on
#: NAS-Bench-Graph -- for predictor quality with and without them).
BASELINES = ("source-transfer", "ridge-source", "rf-source", "rf", "gbm", "scratch-gnn")
BASELINES_FF = ("ridge-source", "rf-source", "rf", "gbm")
LGBM = ("lgbm", "lgbm-source")
METHODS: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "meta-gnn": ("meta", "meta", {}),
    "multitask-finetune": ("meta", "multitask", {"inner_steps": "cv"}),
    **{m: (m, None, {}) for m in BASELINES},
    "meta-gnn+ff": ("meta", "meta-ff", {}),
    **{f"{m}+ff": (m, None, {}) for m in BASELINES_FF},
    **{m: (m, None, {}) for m in LGBM},
    **{f"{m}+ff": (m, None, {}) for m in LGBM},
    # the deep-kernel GP head (meta-trained on the marginal likelihood; adapts by conditioning on the support)
    "meta-dkt": ("meta", "dkt", {}),
    "meta-dkt-linear": ("meta", "dkt-linear", {}),
    "meta-dkt-top": ("meta", "dkt-top", {}),
    "meta-dkt-graph": ("meta", "dkt-graph", {}),
    "meta-dkt-maml": ("meta", "dkt", {"inner_steps": 5}),  # MAML-style encoder steps on the support, then the GP
    "meta-dkt-ml": ("meta", "dkt", {"gp_steps": 50}),  # the GP's hyper-parameters re-fit on the support
    "meta-dkt+ff": ("meta", "dkt-ff", {}),
    # value residuals alone (rank_residual 0: the default before predictor-rank-share-quarter.yaml, and the
    # reference "meta-dkt" of the rounds before it)
    "meta-dkt-value": ("meta", "dkt", {"rank_residual": 0.0}),
    "meta-dkt-ens-value": ("meta", "dkt-ens", {"rank_residual": 0.0}),
    # the GP conditioned half on the support's ranking disagreement with the network (rank_residual)
    "meta-dkt-rank": ("meta", "dkt", {"rank_residual": 0.5}),
    "meta-dkt-ens-rank": ("meta", "dkt-ens", {"rank_residual": 0.5}),
    # ... with the share each checkpoint chose on its own meta-validation episodes (training tasks only)
    "meta-dkt-auto": ("meta", "dkt", {"rank_residual": "checkpoint"}),
    "meta-dkt-ens-auto": ("meta", "dkt-ens", {"rank_residual": "checkpoint"}),
    # ... with a quarter of the residual a ranking one
    "meta-dkt-rank-0.25": ("meta", "dkt", {"rank_residual": 0.25}),
    "meta-dkt-ens-rank-0.25": ("meta", "dkt-ens", {"rank_residual": 0.25}),
    # ... with the share it chose for the support size nearest K
    "meta-dkt-auto-k": ("meta", "dkt", {"rank_residual": "checkpoint-k"}),
    "meta-dkt-ens-auto-k": ("meta", "dkt-ens", {"rank_residual": "checkpoint-k"}),
    # the network's learned correction as a GP basis the support has to earn (correction_sd, adapt option)
    "meta-dkt-earned": ("meta", "dkt", {"correction_sd": 0.5}),
    "meta-dkt-ens-earned": ("meta", "dkt-ens", {"correction_sd": 0.5}),
    # the network's correction beyond its monotone warp of the transfer prior, weighted (correction_weight, an adapt
    # option; 0.5 the default's from predictor-prior-warp-s*.yaml, 0.25 from predictor-prior-warp-0.25-s*.yaml, each
    # a default before "prior-fit": the rounds' configs name them)
    "meta-dkt-ens-warp-0.5": ("meta", "dkt-ens", {"correction_weight": 0.5}),
    "meta-dkt-ens-warp-0": ("meta", "dkt-ens", {"correction_weight": 0.0}),
    "meta-dkt-ens-warp-0.25": ("meta", "dkt-ens", {"correction_weight": 0.25}),
    # ... with the weight each fit's support chose among 0.25, 0.5 and 1 (correction_weight "cv": the one whose fits
    # without each held-out fold rank the support's folds best)
    "meta-dkt-ens-warp-cv": ("meta", "dkt-ens", {"correction_weight": "cv"}),
    # ... ranked at their top (correction_weight "cv-top": the weighted tau scores the folds)
    "meta-dkt-ens-warp-cv-top": ("meta", "dkt-ens", {"correction_weight": "cv-top"}),
    # ... 1 - rho within 0.25..0.5, rho the support's Spearman correlation with the zero-shot source rank
    "meta-dkt-ens-warp-prior-fit": ("meta", "dkt-ens", {"correction_weight": "prior-fit"}),
    # the default with the network's full correction (correction_weight 1: the default before 0.5)
    "meta-dkt-ens-full-correction": ("meta", "dkt-ens", {"correction_weight": 1.0}),
    # the GP's signal variance times the multiplier each member chose on its own meta-validation episodes (gp_scale)
    "meta-dkt-ens-scale": ("meta", "dkt-ens", {"gp_scale": "checkpoint"}),
    "meta-dkt-ens-scale-k": ("meta", "dkt-ens", {"gp_scale": "checkpoint-k"}),
    # deep ensembles: the same meta-training with ENSEMBLE meta seeds, averaged
    "meta-dkt-ens": ("meta", "dkt-ens", {}),
    # ... meta-validated on a seed-drawn training task (the default before predictor-meta-val.yaml), on the training
    # task numbered by each member's seed (the default since), or on held-out archs of every task
    "meta-dkt-ens-task": ("meta", "dkt-ens-task", {}),
    "meta-dkt-ens-task-seed": ("meta", "dkt-ens-task-seed", {}),
    "meta-dkt-ens-archs": ("meta", "dkt-ens-archs", {}),
    # ... with five members (meta seeds 0-4; the first three are meta-dkt-ens's)
    "meta-dkt-ens-5": ("meta", "dkt-ens-5", {}),
    "meta-dkt-ens+ff": ("meta", "dkt-ens-ff", {}),
    # ... meta-trained with the query's ranking loss weighted towards its top architectures (top_weight 0.5, 1; 1 is the
    # default's since predictor-top-weight-s*.yaml, so top-1 equals meta-dkt-ens), or unweighted (0: the default before)
    "meta-dkt-ens-top": ("meta", "dkt-ens-top", {}),
    "meta-dkt-ens-top-1": ("meta", "dkt-ens", {}),
    "meta-dkt-ens-top-0": ("meta", "dkt-ens-top-0", {}),
    # ... with the GP head's hyper-parameters at their own rate (gp_lr), meta-learned under log-normal priors centred on
    # their start (gp_prior_sd) or not
    "meta-dkt-ens-gplr-0.02": ("meta", "dkt-ens-gplr-0.02", {}),
    "meta-dkt-ens-gpprior-1": ("meta", "dkt-ens-gpprior-1", {}),
    "meta-dkt-ens-gpprior-0.5": ("meta", "dkt-ens-gpprior-0.5", {}),
    "meta-gnn-ens": ("meta", "meta-ens", {}),
    # MAML's adapted GNN with a GP head meta-learned on its residuals (second stage, gp_head)
    "meta-gnn-gp": ("meta", "meta-gp", {}),
    "meta-gnn-gp-ens": ("meta", "meta-gp-ens", {}),
}
#: Members of an ensemble checkpoint group (meta seeds seed, seed + 1, ...).
ENSEMBLE = 3
#: The base of every dkt group: the deep-kernel algorithm; its members start from the default's settings for the
#: benchmark's metric (:func:`~surrogate_nas.meta.defaults.default_meta`, over the config's ``meta``; the runner's
#: ``_member_checkpoints``), the group's other overrides over those.
DKT = {"algorithm": "dkt"}
#: Checkpoint group -> (MetaConfig overrides on the config's ``meta``, reads free features, members, variant).
#: ``variant`` names the checkpoint in the run directory when overrides other than the algorithm make it
#: differ from another group's ("" = the algorithm's name); groups with the same overrides share checkpoints.
ALGORITHMS: dict[str, tuple[dict[str, Any], bool, int, str]] = {
    "meta": ({}, False, 1, ""),
    "multitask": ({"algorithm": "multitask"}, False, 1, ""),
    "meta-ff": ({}, True, 1, ""),
    "meta-ens": ({}, False, ENSEMBLE, ""),
    "meta-gp": ({"gp_head": True}, False, 1, "maml-gp"),
    "meta-gp-ens": ({"gp_head": True}, False, ENSEMBLE, "maml-gp"),
    "dkt": (DKT, False, 1, ""),
    "dkt-linear": ({**DKT, "kernel": "linear"}, False, 1, "dkt-linear"),
    "dkt-top": ({**DKT, "top_weight": 0.5}, False, 1, "dkt-top"),
    "dkt-ens-top": ({**DKT, "top_weight": 0.5}, False, ENSEMBLE, "dkt-top"),
    "dkt-ens-top-0": ({**DKT, "top_weight": 0.0}, False, ENSEMBLE, "dkt-top-0"),
    "dkt-ens-gplr-0.02": ({**DKT, "gp_lr": 0.02}, False, ENSEMBLE, "dkt-gplr-0.02"),
    "dkt-ens-gpprior-1": ({**DKT, "gp_lr": 0.03, "gp_prior_sd": 1.0}, False, ENSEMBLE, "dkt-gpprior-1"),
    "dkt-ens-gpprior-0.5": ({**DKT, "gp_lr": 0.03, "gp_prior_sd": 0.5}, False, ENSEMBLE, "dkt-gpprior-0.5"),
    "dkt-graph": ({**DKT, "kernel": "rbf+graph"}, False, 1, "dkt-graph"),
    "dkt-ff": (DKT, True, 1, ""),
    "dkt-ens": (DKT, False, ENSEMBLE, ""),
    "dkt-ens-task": ({**DKT, "meta_val": "task"}, False, ENSEMBLE, "dkt-val-task"),
    "dkt-ens-task-seed": ({**DKT, "meta_val": "task-seed"}, False, ENSEMBLE, "dkt-task-seed"),
    "dkt-ens-archs": ({**DKT, "meta_val": "archs"}, False, ENSEMBLE, "dkt-archs"),
    "dkt-ens-5": (DKT, False, 5, ""),
    "dkt-ens-ff": (DKT, True, ENSEMBLE, ""),
}
#: Methods whose predictions come with a std (calibration is reported for them).
WITH_STD = {
    m for m, (_, ck, _) in METHODS.items() if ck is not None and ck.startswith(("dkt", "meta-ens", "meta-gp"))
} | {"rf", "rf-source", "rf+ff", "rf-source+ff"}


def member_names(group: str) -> list[str]:
    """The cell's checkpoint names of a group: the group itself, or ``group/i`` per ensemble member."""
    n = ALGORITHMS[group][2]
    return [group] if n == 1 else [f"{group}/{i}" for i in range(n)]


def reads_features(method: str) -> bool:
    """Whether a table column's predictor gets the target's free features."""
    return method.endswith("+ff")


def build(method: str, space, sources, checkpoints: dict, seed: int, target: str, features=None):
    """The registered predictor behind a table column, after checking it cannot read the target's values.
    ``features``: the target's :class:`~surrogate_nas.predictors.inputs.FreeFeatureValues`, for the ``+ff``
    columns."""
    import surrogate_nas.meta  # noqa: F401  (registers the "meta" predictor)

    from ..meta.records import tasks_read
    from ..predictors import make_predictor

    name, ckpt, options = METHODS[method]
    kwargs = {"space": space, "seed": seed, "sources": sources, **options}
    if reads_features(method):
        if features is None:
            raise ValueError(f"predictor_quality {method}: the target's free features were not given")
        kwargs["features"] = features
    read = list(sources.tasks)
    if ckpt is not None:
        members = [checkpoints[n] for n in member_names(ckpt)]
        kwargs.update(checkpoint=members if len(members) > 1 else members[0], task=target)
        read = list(dict.fromkeys(t for c in members for t in tasks_read(c, sources)))  # checkpoints' tasks + sources
    check_isolation(target, read, where=f"predictor_quality {method}")
    return make_predictor(name, **kwargs)


def split(space, archs, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """K support archs distinct by canonical key; the query is every arch whose key is not in the support."""
    keys = [space.canonical(a) for a in archs]
    sup, seen = [], set()
    for i in rng.permutation(len(archs)):
        if keys[i] not in seen:
            sup.append(i)
            seen.add(keys[i])
            if len(sup) == k:
                break
    qry = np.array([i for i in range(len(archs)) if keys[i] not in seen])
    return np.array(sup), qry


def group_of(method: str) -> str:
    """The cell group of a method: the checkpoint it adapts, or ``baselines``."""
    return METHODS[method][1] or "baselines"


class _TargetData:
    """What every cell of one (benchmark, target) reads: table, sources, archs, values, canonical keys."""

    def __init__(self, table, target: str, metric: str):
        from ..features import available_features
        from ..predictors.inputs import FreeFeatureValues, SourceValues

        self.table = table
        self.train = [t for t in table.tasks if t != target]
        self.sources = SourceValues(table, tuple(self.train), metric)
        self.archs = table.archs(target, metric)
        self.y = table.vector(target, metric, self.archs)
        self.features = FreeFeatureValues(table, target, available_features(table, target, metric), metric)


_TARGETS: dict[tuple, _TargetData] = {}


def target_data(table, benchmark: str, target: str, metric: str) -> _TargetData:
    """Per-process cache: a worker builds a target's sources/archs/values once, not once per cell."""
    key = (benchmark, target, metric)
    if key not in _TARGETS:
        _TARGETS[key] = _TargetData(table, target, metric)
    return _TARGETS[key]


def run_cell(
    table,
    benchmark: str,
    target: str,
    metric: str,
    k: int,
    seed: int,
    methods,
    checkpoints: dict,
    data: _TargetData | None = None,
) -> list[dict]:
    """The result rows of ``methods`` for one (target, K, seed): exactly the old script's inner loop."""
    d = data or _TargetData(table, target, metric)
    sup, qry = split(table.space, d.archs, k, np.random.default_rng([seed, k]))
    s_archs, q_archs = [d.archs[i] for i in sup], [d.archs[i] for i in qry]
    from ..predictors.metrics import calibration_report, ranking_report

    rows = []
    for name in methods:
        t = time.perf_counter()
        model = build(name, table.space, d.sources, checkpoints, seed, target, d.features).fit(s_archs, d.y[sup])
        calib = {}
        if name in WITH_STD:
            pred, std = model.predict(q_archs, return_std=True)
            calib = calibration_report(d.y[qry], pred, std)
        else:
            pred = model.predict(q_archs)
        rows.append(
            {
                "benchmark": benchmark,
                "target_task": target,
                "k": k,
                "method": name,
                "seed": seed,
                **ranking_report(d.y[qry], pred),
                **calib,
                "seconds": time.perf_counter() - t,
            }
        )
    return rows


# ---------------------------------------------------------------------- report
CALIBRATION = ["coverage_50", "coverage_90", "gaussian_nll"]


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["kendall_tau", "spearman_rho", "kendall_tau_top", "precision_at_1pct"] + [c for c in CALIBRATION if c in df]
    out = df.groupby(["benchmark", "target_task", "k", "method"])[cols].mean().reset_index()
    out["held_out"] = held_out_mask(out["benchmark"], out["target_task"])
    out["target_task"] = [t if h else f"{t} (val)" for t, h in zip(out["target_task"], out["held_out"])]
    return out


def markdown(df: pd.DataFrame, timings: pd.DataFrame) -> str:
    s = summarise(df)
    out = [
        "# Predictor quality (leave-one-task-out)",
        "",
        f"Seeds: {df['seed'].nunique()}; K: {sorted(int(k) for k in df['k'].unique())}; "
        "metric per cell: mean over seeds.",
        "Targets marked (val) are the validation targets defaults were chosen on; the others are held out. "
        "Every mean, median and count over targets is over the held-out targets only; the (val) targets have "
        "their own rows in the per-target tables.",
        "",
    ]
    for bench, g_all in s.groupby("benchmark"):
        g = g_all[g_all["held_out"]]
        piv = g_all.pivot_table(index=["target_task", "k"], columns="method", values="kendall_tau")
        out += [f"## {bench}: Kendall tau on all non-support archs", "", piv.round(3).to_markdown(), ""]
        mean_t = g.groupby(["k", "method"])["kendall_tau"].mean().unstack()
        out += [f"### {bench}: mean Kendall tau over held-out targets", "", mean_t.round(3).to_markdown(), ""]
        top = g_all.pivot_table(index=["target_task", "k"], columns="method", values="kendall_tau_top")
        out += [f"### {bench}: Kendall tau within the true top 5%", "", top.round(3).to_markdown(), ""]
        p1 = g_all.pivot_table(index=["target_task", "k"], columns="method", values="precision_at_1pct")
        out += [f"### {bench}: precision@1%", "", p1.round(3).to_markdown(), ""]
        cal = g.dropna(subset=["coverage_90"]) if "coverage_90" in g else g.iloc[:0]
        if len(cal):
            med = cal.groupby(["k", "method"])[CALIBRATION].median().unstack("method")
            out += [
                f"### {bench}: calibration (median over held-out targets of the per-target mean over seeds)",
                "",
                "coverage_50 / coverage_90: share of query archs inside the central 50% / 90% predictive interval; "
                "gaussian_nll: mean negative log likelihood in the metric's units.",
                "",
            ]
            for c in CALIBRATION:
                out += [f"#### {c}", "", med[c].round(3).to_markdown(), ""]
    pairs = [m for m in s["method"].unique() if reads_features(m) and m[:-3] in set(s["method"])]
    if pairs:
        out += [
            "## With and without free features",
            "",
            "Mean Kendall tau over held-out targets and seeds; `delta` = with features minus without.",
            "",
        ]
        for bench, g in s[s["held_out"]].groupby("benchmark"):
            mean_t = g.groupby(["k", "method"])["kendall_tau"].mean().unstack()
            cols = {}
            for m in sorted(pairs):
                base = m[:-3]
                cols[base], cols[m], cols[f"delta {base}"] = mean_t[base], mean_t[m], mean_t[m] - mean_t[base]
            out += [f"### {bench}", "", pd.DataFrame(cols).round(3).to_markdown(), ""]
    out += ["## Meta-training", "", timings.round(3).to_markdown(index=False), ""]
    return "\n".join(out)


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summarise(df)
    if s["held_out"].any():  # a tuning round has validation targets only: plot those
        s = s[s["held_out"]]
    benches = sorted(s["benchmark"].unique())
    fig, axes = plt.subplots(1, len(benches), figsize=(6 * len(benches), 4.2), squeeze=False)
    for ax, bench in zip(axes[0], benches):
        g = s[s["benchmark"] == bench].groupby(["k", "method"])["kendall_tau"].mean().unstack()
        for m in g.columns:
            ax.plot(
                g.index,
                g[m],
                marker="o",
                lw=2.5 if m.startswith("meta-gnn") else 1.2,
                ls="--" if reads_features(m) else "-",
                label=m,
            )
        ax.set_xscale("log")
        ax.set_xlabel("K support architectures of the target")
        ax.set_ylabel("Kendall tau (mean over held-out targets and seeds)")
        ax.set_title(f"{bench}: leave-one-task-out")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def report_name(mode: str) -> str:
    return "predictor_quality_quick" if mode == "quick" else "predictor_quality"


def write_report(df: pd.DataFrame, timings: pd.DataFrame, out: Path, name: str, footer: str = "") -> str:
    """``out/NAME.{csv,md,png}``; returns the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / f"{name}.csv", df.to_csv(index=False))
    md = markdown(df, timings) + footer
    atomic_write_text(out / f"{name}.md", md)
    plot(df, out / f"{name}.png")
    return md
