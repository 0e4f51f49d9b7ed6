"""The default meta-predictor's settings, in a module light enough for ``--help`` and config checks (no torch).

Chosen on the validation targets (NB-201 cifar100; NAS-Bench-Graph cora, photo; experiments/configs/
predictor-defaults*.yaml, predictor-meta-val.yaml): the deep-kernel GP head with robust target scaling,
meta-validated on a held-out training task, a different one for each of the :data:`DEFAULT_MEMBERS` meta seeds of its
ensemble (``meta_val="task-seed"``), its query ranking loss weighted towards the top (``top_weight`` 1); for hardware
metrics with a linear kernel, a seed-drawn validation task and an unweighted ranking loss (:data:`HARDWARE_META`);
adapted with a quarter of rank residual (:data:`DEFAULT_RANK_SHARE`, function-level metrics only) and a share of the
network's correction beyond its warp of the transfer prior that the support sets: a quarter where the zero-shot source
rank already ranks it, up to a half where it does not (:data:`DEFAULT_CORRECTION_WEIGHT`; hardware metrics keep the
full correction, :data:`HARDWARE_CORRECTION_WEIGHT`, by their own round). ``MetaConfig()`` itself is the bare
learner (MAML); :func:`~surrogate_nas.meta.maml.default_meta_config` builds the default.
"""

from __future__ import annotations

#: ``top_weight`` 1: each episode's query ranking loss weighted towards its best architectures (LambdaRank gains;
#: :func:`~surrogate_nas.predictors.gnn.pairwise_rank_loss`), chosen on the accuracy validation targets with three
#: meta-seed triples (experiments/configs/predictor-top-weight-s*.yaml; experiments/results/README.md, "A top-weighted
#: ranking loss in meta-training").
DEFAULT_META = {"algorithm": "dkt", "target_scale": "robust", "meta_val": "task-seed", "top_weight": 1.0}
DEFAULT_MEMBERS = 3
#: What the default changes for a hardware metric (latency, parameters, FLOPs, energy, memory:
#: :func:`~surrogate_nas.benchmarks.is_hardware_metric`), a property of the network that adds up over its operations:
#: a linear kernel on the meta-learned embedding (Bayesian linear regression on it) instead of the RBF one. Chosen on
#: the shipped latency table's validation settings t1-b32-bf16 and t1-b32-fp32 (experiments/results/README.md,
#: "Latency as a task"); on the accuracy validation targets it does not pass the defaults' rule
#: (experiments/results/predictor_linear_kernel.md), so function-level metrics keep the RBF kernel. Meta-validation on
#: a seed-drawn training task (``meta_val="task"``): the default's per-member task (``"task-seed"``) was below it on one
#: of those two settings (experiments/results/latency_meta_val.md), so hardware metrics keep it.
#: Their ranking loss stays unweighted (``top_weight`` 0): the top-weighted one was not chosen on them.
HARDWARE_META = {"kernel": "linear", "meta_val": "task", "top_weight": 0.0}
#: The settings (tasks) of the shipped latency table (data/latency/nb201_cpu_latency.csv) :data:`HARDWARE_META` was
#: chosen on; its other settings are held out (experiments/latency_transfer.py reports their mean apart).
HARDWARE_VALIDATION = ("t1-b32-bf16", "t1-b32-fp32")
#: The share of a deep-kernel head's support residual that is the support's ranking disagreement with the network
#: (adapt option ``rank_residual``; :func:`~surrogate_nas.meta.deep_kernel.rank_residual`) when a function-level
#: metric is adapted without one. Chosen on the accuracy validation targets (experiments/configs/
#: predictor-rank-share-quarter.yaml; experiments/results/README.md, "The GP's residual kept to ranking"). Hardware
#: metrics and GP heads on a gradient-adapted network keep value residuals alone (0): not chosen on them.
DEFAULT_RANK_SHARE = 0.25
#: The weight of a deep-kernel network's correction beyond its monotone warp of the transfer prior (adapt option
#: ``correction_weight``; :func:`~surrogate_nas.meta.gp_head.prior_warp`) when a function-level metric is adapted
#: without one: ``"prior-fit"``, the GP's mean keeps the warp (the source rank put on the values' scale) and
#: ``1 - rho`` of the rest within 0.25..0.5, ``rho`` the support's Spearman correlation with the zero-shot source rank
#: (:func:`~surrogate_nas.meta.correction_choice.prior_fit_weight`). Chosen on the accuracy validation targets with
#: three meta-seed triples: 0.5 over the full correction (experiments/configs/predictor-prior-warp-s*.yaml), 0.25 over
#: 0.5 (predictor-prior-warp-0.25-s*.yaml), then "prior-fit" over 0.25 (predictor-correction-prior-fit-s*.yaml;
#: experiments/results/README.md, "The correction weight set by the prior's fit to the support"). Networks that read
#: no sources keep the full correction (None).
DEFAULT_CORRECTION_WEIGHT: float | str = "prior-fit"
#: The same weight for a deep-kernel fit of a hardware metric: None, the full correction. Its round, on the
#: hardware validation targets of both latency tables (the NB-201 CPU table's :data:`HARDWARE_VALIDATION`;
#: NAS-Bench-Graph latency on cora and photo), three meta-seed triples
#: (experiments/configs/hardware-correction-s*.yaml),
#: asks for a gain on both tables; with the CPU table's latency read negated (before, its transfer prior was 0) 0.5
#: loses there (-0.0031, se 0.0004) and the warp alone (0) loses there and at NAS-Bench-Graph's top
#: (experiments/results/README.md, "The correction beyond the prior's warp for hardware metrics").
HARDWARE_CORRECTION_WEIGHT: float | None = None


def default_meta(metric: str | None = None) -> dict:
    """The default's MetaConfig settings for predicting ``metric``: :data:`DEFAULT_META`, with :data:`HARDWARE_META`
    over it for a hardware metric (None: a function-level one)."""
    from ..benchmarks.kinds import is_hardware_metric

    return {**DEFAULT_META, **(HARDWARE_META if metric is not None and is_hardware_metric(metric) else {})}


def default_rank_share(algorithm: str, metric: str) -> float:
    """The share of rank residual a GP head adapts with by default: :data:`DEFAULT_RANK_SHARE` for a deep-kernel
    checkpoint (``algorithm`` "dkt") of a function-level ``metric``, else 0."""
    return DEFAULT_RANK_SHARE if _chosen_for(algorithm, metric) else 0.0


def default_correction_weight(algorithm: str, metric: str) -> float | str | None:
    """The weight of the correction beyond the prior's warp a fit uses by default, for a deep-kernel checkpoint
    (``algorithm`` "dkt"): :data:`DEFAULT_CORRECTION_WEIGHT` for a function-level ``metric``,
    :data:`HARDWARE_CORRECTION_WEIGHT` (None) for a hardware one; None (the full correction) for any other
    checkpoint."""
    from ..benchmarks.kinds import is_hardware_metric

    if algorithm != "dkt":
        return None
    return HARDWARE_CORRECTION_WEIGHT if is_hardware_metric(metric) else DEFAULT_CORRECTION_WEIGHT


def _chosen_for(algorithm: str, metric: str) -> bool:
    """Whether the default's adapt settings (chosen on accuracy validation targets with deep-kernel checkpoints)
    apply to a fit of a checkpoint of ``algorithm`` predicting ``metric``: a deep-kernel one of a function-level
    metric."""
    from ..benchmarks.kinds import is_hardware_metric

    return algorithm == "dkt" and not is_hardware_metric(metric)
