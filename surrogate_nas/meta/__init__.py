"""Learning across tasks: episodes, the inner loop, MAML/Reptile meta-training, adaptation, checkpoints.

Importing this package registers the ``meta`` predictor (a checkpoint adapted on the support set,
:class:`~surrogate_nas.meta.adapt.MetaGNNPredictor`) in
:data:`surrogate_nas.predictors.PREDICTORS`; the heavy modules load when one is built.
"""

from __future__ import annotations

import os

from ..errors import SurrogateNASError
from ..predictors import PREDICTORS, check_options


@PREDICTORS.register("meta")
def _meta_predictor(checkpoint=None, space=None, seed: int = 0, sources=None, task=None, features=None, **options):
    """Options: those of MetaGNNPredictor (inner_steps, inner_lr, n_members, targets, device, progress, gp_steps,
    correction_sd, correction_weight, rank_residual, gp_scale, calibrate, values_negated).
    A list of checkpoints (e.g. several meta seeds) or an ensemble directory of ``pretrain --members N`` builds a
    deep ensemble (:class:`~surrogate_nas.meta.ensemble.MetaEnsemble`)."""
    from .adapt import MetaGNNPredictor
    from .ensemble import MetaEnsemble

    if checkpoint is None:
        raise SurrogateNASError("predictor 'meta' needs a checkpoint (checkpoint=PATH or a Checkpoint)")
    check_options(
        "predictor 'meta'",
        [
            "inner_steps",
            "inner_lr",
            "n_members",
            "targets",
            "device",
            "progress",
            "gp_steps",
            "correction_sd",
            "correction_weight",
            "rank_residual",
            "gp_scale",
            "calibrate",
            "values_negated",
        ],
        options,
    )
    if isinstance(checkpoint, (str, os.PathLike)):
        from .ensemble import is_ensemble_dir, load_model

        if is_ensemble_dir(checkpoint):
            checkpoint = load_model(checkpoint, device=options.get("device", "cpu"))
    predictor: MetaGNNPredictor | MetaEnsemble
    if isinstance(checkpoint, (list, tuple)):
        predictor = MetaEnsemble(
            checkpoint, sources=sources, seed=seed, task=task, space=space, features=features, **options
        )
    else:
        predictor = MetaGNNPredictor(
            checkpoint, sources=sources, seed=seed, task=task, space=space, features=features, **options
        )
    predictor.validate_params()  # a bad value is refused when the predictor is built (a search: before evaluating)
    return predictor
