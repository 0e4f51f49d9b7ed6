"""Predictors: the ``Predictor`` protocol, its registry, and the baselines registered in it.

Registered names (``make_predictor(name, space=..., seed=..., sources=..., features=..., **options)``):
``source-transfer``, ``ridge-source``, ``rf-source``, ``lgbm-source`` (read ``sources``), ``rf``, ``gbm``,
``lgbm``, ``scratch-gnn`` (ignore ``sources``: they read no other task). ``features`` (a
:class:`~surrogate_nas.predictors.inputs.FreeFeatureValues` of the target) is read by ``ridge-source``,
``rf-source``, ``lgbm-source``, ``rf``, ``gbm``, ``lgbm`` and ``meta``; the zero-shot ``source-transfer`` and
``scratch-gnn`` ignore it. ``meta`` is registered by
:mod:`surrogate_nas.meta`. Classes are imported when a predictor is built, so importing this
package stays cheap.
"""

from __future__ import annotations

from ..errors import SurrogateNASError
from .base import PREDICTORS, Predictor, check_options, make_predictor

__all__ = ["PREDICTORS", "Predictor", "check_options", "make_predictor"]


def _space(name: str, space):
    if space is None:
        raise SurrogateNASError(f"predictor {name!r} needs a search space (space=...)")
    return space


def _need_sources(name: str, sources):
    if sources is None or not getattr(sources, "tasks", ()):
        raise SurrogateNASError(
            f"predictor {name!r} reads source-task values: pass sources=SourceValues(...) with at least one task"
        )
    return sources


@PREDICTORS.register("source-transfer")
def _source_transfer(space=None, seed: int = 0, sources=None, features=None, **options):
    from .baselines import SourceTransferPredictor

    check_options("predictor 'source-transfer'", [], options)
    return SourceTransferPredictor(_space("source-transfer", space), _need_sources("source-transfer", sources))


@PREDICTORS.register("ridge-source")
def _ridge_source(space=None, seed: int = 0, sources=None, features=None, **options):
    from .baselines import SourceRidgePredictor

    check_options("predictor 'ridge-source'", ["alpha"], options)
    return SourceRidgePredictor(
        _space("ridge-source", space), _need_sources("ridge-source", sources), features=features, **options
    )


def _tree(name: str, kind: str, reads_sources: bool):
    def factory(space=None, seed: int = 0, sources=None, features=None, **options):
        from .baselines import TreePredictor

        check_options(f"predictor {name!r}", ["n_estimators"], options)
        src = _need_sources(name, sources) if reads_sources else None
        tree = TreePredictor(_space(name, space), kind, sources=src, seed=seed, features=features, **options)
        return tree.validate_params()  # refused when built (a search checks its predictor before evaluating)

    return factory


PREDICTORS.register("rf-source")(_tree("rf-source", "rf", True))
PREDICTORS.register("rf")(_tree("rf", "rf", False))
PREDICTORS.register("gbm")(_tree("gbm", "gbm", False))
PREDICTORS.register("lgbm-source")(_tree("lgbm-source", "lgbm", True))
PREDICTORS.register("lgbm")(_tree("lgbm", "lgbm", False))


@PREDICTORS.register("scratch-gnn")
def _scratch_gnn(space=None, seed: int = 0, sources=None, features=None, **options):
    """Options: steps, lr, rank_weight, device, and the model as model_config or hidden/layers/conv."""
    from .baselines import ScratchGNNPredictor

    check_options(
        "predictor 'scratch-gnn'",
        ["steps", "lr", "rank_weight", "device", "model_config", "hidden", "layers", "conv"],
        options,
    )
    shape = {k: options.pop(k) for k in ("hidden", "layers", "conv") if k in options}
    if shape:
        from .gnn import ModelConfig

        base = options.pop("model_config", None) or ModelConfig()
        options["model_config"] = ModelConfig(**{**base.to_dict(), **shape})
    return ScratchGNNPredictor(_space("scratch-gnn", space), seed=seed, **options)
