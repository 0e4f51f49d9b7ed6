"""Two-fidelity search: screen many candidates cheaply, promote the best to full fidelity.

:class:`PromotionSearch` wraps a *screener* (any searcher) and applies the promotion rule of asynchronous
successive halving (ASHA, Li et al., MLSys 2020) with two rungs: once ``m`` candidates were measured at the
cheap fidelity, every one of the top ``m // eta`` of them (by cheap value) that is not yet promoted is measured
again at the full fidelity before anything new is screened. The loop learns which fidelity a round wants from
:attr:`~surrogate_nas.search.base.Searcher.fidelity` and passes it to the evaluator (epochs for real training;
``NAME@F`` records for a table).

* ``guided-mf``: the screener is guided search (:class:`~surrogate_nas.search.strategies.GuidedEvolution`); its
  predictor is re-fitted on the cheap measurements of the target (the meta-predictor adapts to the cheap fidelity
  as its target task) and chooses what to screen.
* ``asha``: the screener is random search (the bracket scheduler without a predictor).

A promoted candidate is trained again from scratch at the full fidelity (a table lookup, or a new run of the
full schedule): its cheap run's weights are not continued. The run's result is the best full-fidelity
measurement (:func:`~surrogate_nas.search.loop.trajectory_frame` ranks the top fidelity only).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..spaces import Architecture
from .base import SEARCHERS, Searcher, SearchError, SpaceExhausted
from .strategies import GuidedEvolution, RandomSearch

#: ASHA's reduction factor: the top 1/ETA of the screened candidates are promoted.
ETA = 3


def _fidelities(value) -> tuple[float, float]:
    """``[cheap, full]``: two numbers > 0, cheap below full (epochs, or the fidelity of a table's records)."""
    ok = (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) and 0 < float(v) < np.inf for v in value)
    )
    if not ok or not float(value[0]) < float(value[1]):
        raise SearchError(
            f"option fidelities must be [cheap, full], two numbers > 0 with cheap < full (e.g. [1, 10] epochs), "
            f"got {value!r}"
        )
    return float(value[0]), float(value[1])


class PromotionSearch(Searcher):
    """ASHA's promotion rule over a ``screener`` at ``fidelities = (cheap, full)`` with reduction factor ``eta``."""

    name = "promotion"

    def __init__(self, screener: Searcher, fidelities, eta: int = ETA):
        super().__init__(screener.space, screener.seed, screener.constraint)
        self.low, self.high = _fidelities(fidelities)
        if isinstance(eta, bool) or not isinstance(eta, numbers.Integral) or eta < 2:
            raise SearchError(f"{self.name}: eta must be an int >= 2, got {eta!r}")
        self.eta: int = int(eta)
        self.screener: Searcher = screener
        self._cheap: dict[str, tuple[Architecture, float]] = {}  # canonical key -> (arch, fitness), in order
        self._promoted: set[str] = set()

    @property
    def fidelities(self) -> tuple[float, float]:
        """(cheap, full): the fidelities this search asks the evaluator for."""
        return self.low, self.high

    def run_info(self) -> dict:
        return {**self.screener.run_info(), "screened": len(self._cheap), "promoted": len(self._promoted)}

    @property
    def scored_per_second(self) -> float | None:
        return getattr(self.screener, "scored_per_second", None)

    def promotable(self) -> list[Architecture]:
        """The candidates ASHA promotes now: the top ``len(screened) // eta`` by cheap fitness, not yet promoted,
        best first."""
        measured = [(k, a, f) for k, (a, f) in self._cheap.items() if np.isfinite(f)]
        measured.sort(key=lambda t: -t[2])  # stable: ties keep the order of measurement
        top = measured[: len(self._cheap) // self.eta]
        return [a for k, a, _ in top if k not in self._promoted]

    def _suggest(self, n: int) -> list[Architecture]:
        up = self.promotable()
        if up:
            return self._promote(up[:n])
        self.fidelity = self.low
        try:
            return self.screener.suggest(n)
        except SpaceExhausted:
            # nothing left to screen: promote what is left, best first
            rest = [(a, f) for k, (a, f) in self._cheap.items() if k not in self._promoted and np.isfinite(f)]
            rest.sort(key=lambda t: -t[1])
            if not rest:
                raise
            return self._promote([a for a, _ in rest[:n]])

    def _promote(self, archs: list[Architecture]) -> list[Architecture]:
        self.fidelity = self.high
        self._promoted |= {self.space.canonical(a) for a in archs}
        return archs

    def observe(self, archs, values) -> None:
        """Cheap rounds go to the screener (its fitness ranks the promotions); full rounds are this search's
        own history (``best``)."""
        if self.fidelity == self.low:
            self.screener.observe(archs, values)
            for a in archs:
                k = self.space.canonical(self.space.coerce(a))
                self._cheap[k] = (self.space.coerce(a), self.screener._fit_by_key[k])
            return
        super().observe(archs, values)

    def _exhausted_message(self) -> str:
        return self.screener._exhausted_message()


@SEARCHERS.register("guided-mf")
def guided_mf(space, seed=0, constraint=None, fidelities=None, eta: int = ETA, **guided) -> PromotionSearch:
    """Guided search at the cheap fidelity, ASHA promotion to the full one (options: ``fidelities`` = [cheap,
    full], ``eta``, and every option of ``guided``)."""
    if fidelities is None:
        raise SearchError("guided-mf: needs option fidelities: [cheap, full] (e.g. [1, 10] epochs)")
    return PromotionSearch(GuidedEvolution(space, seed, constraint, **guided), fidelities, eta)


@SEARCHERS.register("asha")
def asha(space, seed=0, constraint=None, fidelities=None, eta: int = ETA) -> PromotionSearch:
    """Random screening at the cheap fidelity, ASHA promotion to the full one (options: ``fidelities``,
    ``eta``): the bracket scheduler without a predictor."""
    if fidelities is None:
        raise SearchError("asha: needs option fidelities: [cheap, full] (e.g. [1, 10] epochs)")
    return PromotionSearch(RandomSearch(space, seed, constraint), fidelities, eta)


__all__ = ["ETA", "PromotionSearch", "asha", "guided_mf"]
