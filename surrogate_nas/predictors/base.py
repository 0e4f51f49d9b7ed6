"""The ``Predictor`` protocol and the registry every consumer (search, experiments, CLI) builds from.

A predictor follows scikit-learn: ``__init__`` stores arguments, ``fit(archs, y)`` returns ``self``,
``predict(archs)`` returns an array in the units of ``y`` and ``predict(archs, return_std=True)``
returns ``(mean, std)`` (std of zeros where a model has no uncertainty): the std of a measured value, noise
included; ``predict(archs, return_std=True, latent=True)`` gives the std of the noise-free value, which
acquisition functions score (the same for models without an observation-noise term). Factories are registered by
name and called with keyword arguments: ``space`` and ``seed`` always, plus ``sources`` (a
:class:`~surrogate_nas.predictors.inputs.SourceValues`) and ``checkpoint`` where the predictor
reads them; unknown keyword options are refused by the factory with a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..registry import Registry


@runtime_checkable
class Predictor(Protocol):
    """What search, experiments and the CLI need from any predictor."""

    def fit(self, archs: Sequence[Any], y) -> Predictor: ...

    def predict(
        self, archs: Sequence[Any], return_std: bool = False, latent: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...


#: name -> factory(**kwargs) -> Predictor. Predictors of other packages and layers are plugins: entry points of the
#: group ``surrogate_nas.predictors``, imported when first looked up; ``meta`` is one (registered by
#: :mod:`surrogate_nas.meta` on import, declared in this package's pyproject.toml).
PREDICTORS: Registry[Predictor] = Registry(
    "predictor", instance_type=Predictor, entry_points="surrogate_nas.predictors"
)


def make_predictor(name_or_predictor, **kwargs) -> Predictor:
    """Build a registered predictor by name (an existing predictor passes straight through)."""
    return PREDICTORS.get(name_or_predictor, **kwargs)


def check_options(what: str, accepted, options: dict) -> None:
    """Refuse keyword options ``what`` does not take, naming them and the ones it does."""
    import inspect

    if callable(accepted):
        accepted = [
            p.name
            for p in inspect.signature(accepted).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        from ..errors import SurrogateNASError

        raise SurrogateNASError(
            f"{what}: unknown option(s) {', '.join(map(repr, unknown))}; it takes {', '.join(sorted(accepted))}"
        )
