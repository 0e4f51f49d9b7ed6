"""The predictor a guided searcher re-fits on its measurements, built from the predictor registry
(:data:`surrogate_nas.predictors.base.PREDICTORS`), and the source-rank score of the transfer baseline."""

from __future__ import annotations

import inspect

import numpy as np

from ..errors import SurrogateNASError, first_line
from ..predictors.base import PREDICTORS, make_predictor
from .base import SearchError

#: Documented shorthands of ``--predictor``: registry name and the options the search gives it.
ALIASES = {
    "scratch": ("scratch-gnn", {"hidden": 32, "layers": 2}),
    "tree": ("rf", {"n_estimators": 100}),
}


def _load_registry() -> None:
    # the packages register their predictors on import; "meta" comes with surrogate_nas.meta
    import surrogate_nas.meta  # noqa: F401
    import surrogate_nas.predictors  # noqa: F401


def predictor_names() -> list[str]:
    """Every name ``predictor`` accepts: the registry's and the aliases."""
    _load_registry()
    return sorted(set(PREDICTORS.names()) | set(ALIASES))


def _params(name: str) -> set[str]:
    """The keyword arguments the registered factory ``name`` names (its ``**options`` are its own)."""
    _load_registry()
    ps = inspect.signature(PREDICTORS.factory(name)).parameters.values()
    return {p.name for p in ps if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def registry_name(name: str) -> str:
    return ALIASES[name][0] if name in ALIASES else name


def needs_checkpoint(name: str) -> bool:
    """Whether predictor ``name`` reads a meta-trained checkpoint (``--model``)."""
    name = registry_name(name)
    return name in predictor_names() and "checkpoint" in _params(name)


def predictor_factory(
    name: str,
    *,
    space,
    seed: int = 0,
    checkpoint=None,
    sources=None,
    task: str | None = None,
    cv_until: int = 20,
    targets: str = "anchored",
    scratch_steps: int = 150,
    options: dict | None = None,
    maximize: bool = True,
):
    """``fit(archs, y) -> fitted predictor``: a new predictor from the registry, fitted on all measurements.

    The factory gets ``space``, ``seed``, and where it names them ``checkpoint``, ``task`` (the
    search target, for the predictor's own isolation check) and ``sources`` (source-task values).

    ``meta`` re-adapts from the meta-learned initialisation at every call, choosing its inner steps
    by cross-validation while there are <= ``cv_until`` measurements and keeping the last choice
    after that (a checkpoint with a GP head keeps its own: it adapts by conditioning); ``checkpoint``
    may be a list (an ensemble's members); it gets ``targets`` ("anchored": a search's measurements are a
    selected, top-heavy sample, put on the initialisation's scale rather than z-scored). ``options`` go to the factory.
    ``maximize``: whether the search maximises its metric; a searcher sees a minimised metric negated, and so do the
    predictors it fits (``meta`` is told so: ``values_negated``).
    """
    if name not in predictor_names():
        raise SearchError(f"unknown predictor {name!r}; choose one of {', '.join(predictor_names())}")
    reg = registry_name(name)
    kwargs = {**(ALIASES[name][1] if name in ALIASES else {}), **dict(options or {})}
    if name == "scratch":
        kwargs.setdefault("steps", scratch_steps)
    kwargs.update(space=space, seed=seed)
    kwargs.update(_named_inputs(name, reg, checkpoint, task, sources, targets, maximize))
    _check_options(name, reg, kwargs)  # now, before any evaluation, not at the first re-fit
    return _refitter(name, reg, kwargs, checkpoint, cv_until)


def _named_inputs(
    name: str, reg: str, checkpoint, task: str | None, sources, targets: str, maximize: bool = True
) -> dict:
    """The inputs the registered factory ``reg`` names: ``checkpoint`` (required), ``task``, ``sources`` (when
    given); ``targets`` for ``meta``, and whether the values it is fitted on are its metric negated (a search that
    minimises the metric hands its predictor the negation it maximises)."""
    params = _params(reg)
    out: dict = {}
    if "checkpoint" in params:
        if checkpoint is None:
            raise SearchError(f"predictor {name!r} needs a model checkpoint (--model)")
        out["checkpoint"] = checkpoint
    if "task" in params:
        out["task"] = task
    if "sources" in params and sources is not None:
        out["sources"] = sources
    if reg == "meta":
        out["targets"] = targets
        out["values_negated"] = not maximize
    return out


def _check_options(name: str, reg: str, kwargs: dict) -> None:
    """Build the predictor once so that a bad option is one :class:`SearchError` naming it."""
    try:
        make_predictor(reg, **kwargs)
    except TypeError as e:
        raise SearchError(f"predictor {name!r}: bad option ({e})") from None
    except SurrogateNASError as e:
        msg = first_line(e)
        raise SearchError(msg if msg.startswith(f"predictor {reg!r}") else f"predictor {name!r}: {msg}") from None


def _refitter(name: str, reg: str, kwargs: dict, checkpoint, cv_until: int):
    """``fit(archs, y)``: a new predictor fitted on all measurements; ``meta`` chooses its inner steps by
    cross-validation up to ``cv_until`` measurements, then keeps its last choice (not with a GP head)."""
    state = {"steps": "cv"}
    members = checkpoint if isinstance(checkpoint, (list, tuple)) else [checkpoint]
    gp_head = any(getattr(c, "gp", None) is not None for c in members)  # adapts by conditioning: no steps to choose

    def fit(archs, y):
        kw = dict(kwargs)
        if reg == "meta" and "inner_steps" not in kw and not gp_head:
            cv = len(archs) <= cv_until or state["steps"] == "cv" and len(archs) < 6
            kw["inner_steps"] = "cv" if cv else state["steps"]
        try:
            p = make_predictor(reg, **kw)
        except TypeError as e:
            raise SearchError(f"predictor {name!r}: bad option ({e})") from None
        p = p.fit(archs, y)
        state["steps"] = getattr(p, "steps_", state["steps"])
        return p

    return fit


def source_scores(table, tasks, metric: str, higher_is_better: bool = True):
    """Callable archs -> mean rank-normalised value over ``tasks`` (the source-rank transfer score: the zero-shot
    score, :func:`~surrogate_nas.predictors.inputs.zero_shot_score`), ``-inf`` for an architecture no source task
    recorded (ranked last)."""
    from ..predictors.inputs import SourceValues, zero_shot_score

    sv = SourceValues(table, tuple(tasks), metric, higher_is_better)

    def score(archs):
        m = sv(table.space, list(archs))
        out = zero_shot_score(m)
        if m.shape[1]:
            out[np.isnan(m).all(axis=1)] = -np.inf
        return out

    return score
