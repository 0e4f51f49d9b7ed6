"""Deep ensembles: several meta-trained checkpoints (meta seeds) adapted on the same support and averaged."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import SurrogateNASError

__all__ = ["MetaEnsemble"]


class MetaEnsemble:
    """Averages the predictions of one :class:`~surrogate_nas.meta.adapt.MetaGNNPredictor` per checkpoint.

    ``predict(archs, return_std=True)`` returns the mixture's std: the members' own predictive variance
    (a GP head's posterior; zero for a plain GNN without bootstrap members) plus the spread of their means.
    ``options`` are passed to every member (``seed`` differs per member: ``seed + i``).
    """

    has_uncertainty = True

    def __init__(self, checkpoints: Sequence, seed: int = 0, **options):
        checkpoints = list(checkpoints)
        if not checkpoints:
            raise SurrogateNASError("an ensemble needs at least one checkpoint")
        self.checkpoints = checkpoints
        self.seed = seed
        self.options = options

    def fit(self, archs, y) -> "MetaEnsemble":
        from .adapt import MetaGNNPredictor

        archs = list(archs)
        self.members_ = [MetaGNNPredictor(ck, seed=self.seed + i, **self.options).fit(archs, y)
                         for i, ck in enumerate(self.checkpoints)]
        return self

    def predict(self, archs, return_std: bool = False):
        if not hasattr(self, "members_"):
            from ..errors import DataError

            raise DataError("predict() called before fit(): adapt the predictor on support measurements first")
        archs = list(archs)
        members = self.members_
        if archs and all(m.gp_ is not None for m in members) and len({m.input_key() for m in members}) == 1:
            # GP-headed members reading the same inputs: convert graphs and read columns once
            archs = [members[0].space_.coerce(a) for a in archs]
            batches = members[0].batches(archs)
            outs = [m._predict_gp(archs, True, batches) for m in members]
            if not return_std:
                return np.mean([o[0] for o in outs], axis=0)
        else:
            outs = [m.predict(archs, return_std=return_std) for m in members]
        if not return_std:
            return np.mean(outs, axis=0)
        means = np.stack([o[0] for o in outs])
        var = np.stack([o[1] for o in outs]) ** 2
        return means.mean(0), np.sqrt(var.mean(0) + means.var(0))
