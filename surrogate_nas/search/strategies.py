"""The searchers: random, regularized evolution, local search, source-rank transfer,
predictor-guided evolution and hierarchical search. All are registered in ``SEARCHERS``."""

from __future__ import annotations

import math
import numbers
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from ..spaces import Architecture
from .acquisition import ACQUISITIONS, check_acquisition, posterior, select
from .base import SEARCHERS, Searcher, SearchError, space_pool
from .defaults import ACQUISITION, BATCH_ACQUISITION, N_SUPPORT

#: Spaces up to this size are scored whole by guided searchers (pool="auto").
WHOLE_SPACE_LIMIT = 50_000
#: The most candidates one guided step may generate and score (``n_candidates``, ``top_k``).
MAX_CANDIDATES = 1_000_000


def _check_option(searcher: str, name: str, value) -> None:
    """``beta``: a finite number >= 0; ``n_candidates``, ``top_k``: integers in 1..:data:`MAX_CANDIDATES`."""
    if isinstance(value, bool):
        ok = False
    elif name == "beta":
        ok = isinstance(value, numbers.Real) and math.isfinite(value) and float(value) >= 0
    else:
        ok = isinstance(value, numbers.Integral) and 1 <= int(value) <= MAX_CANDIDATES
    if not ok:
        what = "a finite number >= 0" if name == "beta" else f"an integer in 1..{MAX_CANDIDATES}"
        raise SearchError(f"{searcher}: {name} must be {what}, got {value!r}")


@SEARCHERS.register("random")
class RandomSearch(Searcher):
    """Uniform random architectures, never one whose canonical key was already evaluated."""

    name = "random"

    def _suggest(self, n):
        return self._collect(n, self._fresh_sample)


@SEARCHERS.register("evolution")
class RegularizedEvolution(Searcher):
    """Regularized (ageing) evolution, Real et al. 2019.

    The first ``population`` suggestions are random; afterwards each child is a mutation of the
    best of ``tournament`` individuals drawn from the population, and the population keeps only
    the ``population`` most recent observations (the oldest dies, whatever its fitness).
    """

    name = "evolution"

    def __init__(self, space, seed=0, constraint=None, population: int = 20, tournament: int = 5):
        super().__init__(space, seed, constraint)
        if not isinstance(population, int) or population < 2:
            raise SearchError(f"evolution: population must be an int >= 2, got {population!r}")
        if not isinstance(tournament, int) or not 1 <= tournament <= population:
            raise SearchError(
                f"evolution: tournament must be an int in [1, population={population}], got {tournament!r}"
            )
        self.population = population
        self.tournament = tournament
        self._pop: deque[tuple[Architecture, float]] = deque(maxlen=population)
        self._n_init = 0

    def _child(self) -> Architecture | None:
        idx = self.rng.choice(len(self._pop), size=min(self.tournament, len(self._pop)), replace=False)
        parent = max((self._pop[i] for i in idx), key=lambda p: p[1])[0]
        for _ in range(50):
            c = self.space.mutate(parent, self.rng)
            if self._ok(c):
                return c
        return self._fresh_sample()

    def _next(self) -> Architecture | None:
        """A random architecture while the population fills, then a mutated tournament winner."""
        if self._n_init < self.population or not self._pop:
            self._n_init += 1
            return self._fresh_sample()
        return self._child()

    def _suggest(self, n):
        return self._collect(n, self._next)

    def _observe(self, archs, values, fitness):
        for a, f in zip(archs, fitness):
            self._pop.append((a, float(f)))


@SEARCHERS.register("local")
class LocalSearch(Searcher):
    """Best-improvement local search over ``space.neighbors``, restarting at a random point.

    From the current centre every (new, allowed) neighbour is evaluated in a seeded random
    order; then the search moves to the best neighbour if it beats the centre, else restarts.
    """

    name = "local"

    def __init__(self, space, seed=0, constraint=None):
        super().__init__(space, seed, constraint)
        self._center: Architecture | None = None
        self._queue: list[Architecture] = []

    def _fit(self, a) -> float | None:
        return self._fit_by_key.get(self.space.canonical(a))

    def _advance(self) -> None:
        """Decide the next centre once all neighbours of the current one are known."""
        while True:
            if self._center is None:
                return
            center_fit = self._fit(self._center)
            if center_fit is None:
                return
            if self._queue:
                return
            nbrs = self.space.neighbors(self._center)
            pending = [a for a, ok in zip(nbrs, self._allowed(nbrs)) if ok]
            if pending:
                self._queue = [pending[i] for i in self.rng.permutation(len(pending))]
                return
            known = [(f, i) for i, a in enumerate(nbrs) if (f := self._fit(a)) is not None]
            best = max(known, default=None)
            if best is not None and best[0] > center_fit:
                self._center = nbrs[best[1]]
            else:
                self._center = None  # local optimum: restart
                return

    def _suggest(self, n):
        out = []
        while len(out) < n:
            self._advance()
            if self._center is None:
                a = self._fresh_sample()
                if a is None:
                    break
                self._center = a
                self._seen.add(self.space.canonical(a))
                out.append(a)
                break  # the centre must be measured before its neighbourhood is explored
            if self._fit(self._center) is None:
                break
            while self._queue and len(out) < n:
                a = self._queue.pop(0)
                if self._ok(a):
                    self._seen.add(self.space.canonical(a))
                    out.append(a)
            if out:
                break  # wait for the observations before moving on
            # the queue held only architectures seen meanwhile (isomorphic neighbours): advance again
        return out


@SEARCHERS.register("source-rank")
class SourceRankSearch(Searcher):
    """Transfer baseline: evaluate architectures in the order of their score on source tasks.

    ``scores(archs)`` gives the source score (e.g. mean rank-normalised value over the source
    tasks, :class:`~surrogate_nas.predictors.inputs.SourceValues`); ties are broken by the seed.
    """

    name = "source-rank"

    def __init__(self, space, seed=0, constraint=None, scores: Callable | None = None):
        super().__init__(space, seed, constraint)
        if scores is None:
            raise SearchError("source-rank search needs source scores (a benchmark with source tasks)")
        archs, _, _ = space_pool(self.space)
        s = np.nan_to_num(np.asarray(scores(list(archs)), dtype=float), nan=-np.inf)
        tie = self.rng.permutation(len(archs))
        self._order = [archs[i] for i in np.lexsort((tie, -s))]
        self._pos = 0

    def _suggest(self, n):
        out = []
        while len(out) < n and self._pos < len(self._order):
            a = self._order[self._pos]
            self._pos += 1
            if self._ok(a):
                self._seen.add(self.space.canonical(a))
                out.append(a)
        return out


def _acquisitions(acquisition: str | None, batch_acquisition: str | None) -> tuple[str, str]:
    """(acquisition of one suggestion, of a batch): the defaults of :mod:`~surrogate_nas.search.defaults`, except
    that a batch uses a given ``acquisition`` when no ``batch_acquisition`` is given."""
    batch = batch_acquisition or (acquisition if acquisition is not None else BATCH_ACQUISITION)
    return acquisition or ACQUISITION, batch


@SEARCHERS.register("guided")
class GuidedEvolution(Searcher):
    """Predictor-guided search (``guided``; formerly ``guided-evolution``): Bayesian optimisation over a
    candidate set.

    1. Support: the first ``n_support`` suggestions are the top of the source ranking
       (``support="source-rank"``, needs ``source_scores``) or random (``support="random"``);
       they are ordinary evaluations and count against the budget.
    2. Then at every suggestion: re-fit the predictor on *all* measurements so far
       (``predictor(archs, values)`` returns a fitted object with ``predict``), generate
       candidates, score them with the acquisition and return the best unmeasured ones.

    Candidates (``pool``): ``"space"`` scores one representative per canonical key of the whole
    space; ``"mutants"`` scores ``n_candidates`` mutants/crossovers of the ``top_k`` measured plus
    random samples; ``"auto"`` = space when it has <= 50,000 architectures.
    Acquisition (:mod:`~surrogate_nas.search.acquisition`, BoTorch on the finite candidate set): ``mean``
    (greedy), ``ucb`` (mean + ``beta`` * std), ``ei`` (expected improvement over the best measured) or
    ``thompson`` (default); ``suggest(q)`` with ``q > 1`` returns a batch chosen by ``batch_acquisition`` (q-EI /
    q-UCB by sequential greedy conditioning, ``q`` Thompson draws, or the top ``q`` by mean; default: ``acquisition``
    when it is given, else ``ucb``: :mod:`~surrogate_nas.search.defaults`). The std comes from
    ``predict(..., return_std=True)`` (0 for predictors without one), the joint covariance of a batch from
    ``predict_cov`` where the predictor has it.
    ``scored_`` counts the predictor calls (one per candidate scored).

    ``support_random``: how many of the support suggestions are random instead of source-ranked.
    """

    name = "guided"

    def __init__(
        self,
        space,
        seed=0,
        constraint=None,
        predictor: Callable | None = None,
        n_support: int = N_SUPPORT,
        support: str = "source-rank",
        source_scores: Callable | None = None,
        acquisition: str | None = None,
        batch_acquisition: str | None = None,
        beta: float = 1.0,
        pool: str = "auto",
        n_candidates: int = 2000,
        top_k: int = 10,
        support_random: int = 0,
    ):
        super().__init__(space, seed, constraint)
        acquisition, batch_acquisition = _acquisitions(acquisition, batch_acquisition)
        self._check_options(
            predictor=predictor,
            n_support=n_support,
            support=support,
            source_scores=source_scores,
            acquisition=acquisition,
            batch_acquisition=batch_acquisition,
            pool=pool,
            beta=beta,
            n_candidates=n_candidates,
            top_k=top_k,
            support_random=support_random,
        )
        assert predictor is not None  # refused by _check_options
        self.predictor = predictor
        self.n_support = n_support
        self.support = support
        self.support_random = support_random
        self.acquisition = acquisition
        self.batch_acquisition = batch_acquisition
        self.beta = float(beta)
        self.n_candidates = int(n_candidates)
        self.top_k = int(top_k)
        if pool == "auto":
            pool = "space" if len(self.space.enumerate()) <= WHOLE_SPACE_LIMIT else "mutants"
        self.pool = pool
        self._support_src, self._support_rand = self._support_searchers(support, source_scores, seed, constraint)
        self._n_support_given = 0
        self._model = None
        self._model_at = -1
        self.scored_ = 0  # candidates scored by the predictor
        self.score_seconds_ = 0.0  # time spent scoring them
        self.fit_seconds_ = 0.0
        self.fallbacks_ = 0  # steps where the predictor could not be fitted

    def _support_searchers(self, support: str, source_scores, seed: int, constraint) -> tuple[Searcher, Searcher]:
        """Who suggests the support: the source ranking (or random search, ``support="random"``) for the first
        ``n_support - support_random``, a random search of its own seed for the rest."""
        first: Searcher = (
            SourceRankSearch(self.space, seed, constraint, scores=source_scores)
            if support == "source-rank"
            else RandomSearch(self.space, seed, constraint)
        )
        return first, RandomSearch(self.space, seed + 7919, constraint)

    def _check_options(
        self,
        *,
        predictor,
        n_support,
        support,
        source_scores,
        acquisition,
        batch_acquisition,
        pool,
        beta,
        n_candidates,
        top_k,
        support_random,
    ) -> None:
        """Refuse a bad option of the constructor (one :class:`SearchError` naming the searcher and the option)."""
        if predictor is None:
            raise SearchError(f"{self.name}: needs a predictor (a model checkpoint or a from-scratch predictor)")
        if not isinstance(n_support, int) or n_support < 2:
            raise SearchError(
                f"{self.name}: n_support must be an int >= 2 (adaptation needs 2 measurements), got {n_support!r}"
            )
        if support not in ("source-rank", "random"):
            raise SearchError(f"{self.name}: support must be 'source-rank' or 'random', got {support!r}")
        if support == "source-rank" and source_scores is None:
            raise SearchError(f"{self.name}: support='source-rank' needs source scores; use support='random'")
        check_acquisition(acquisition, self.name)
        check_acquisition(batch_acquisition, f"{self.name} batch_acquisition")
        if pool not in ("auto", "space", "mutants"):
            raise SearchError(f"{self.name}: pool must be auto, space or mutants, got {pool!r}")
        _check_option(self.name, "beta", beta)
        _check_option(self.name, "n_candidates", n_candidates)
        _check_option(self.name, "top_k", top_k)
        if not isinstance(support_random, int) or not 0 <= support_random <= n_support:
            raise SearchError(
                f"{self.name}: support_random must be an int in [0, n_support={n_support}], got {support_random!r}"
            )

    # ------------------------------------------------------------------ pieces
    def run_info(self) -> dict:
        return {"fallbacks": self.fallbacks_, "scored": self.scored_}

    @property
    def scored_per_second(self) -> float | None:
        return self.scored_ / self.score_seconds_ if self.score_seconds_ > 0 else None

    def _refit(self) -> bool:
        if self._model_at == len(self.history):
            return self._model is not None
        ok = [(a, f) for a, _, f in self.history if np.isfinite(f)]
        self._model_at = len(self.history)
        self._model = None
        if len(ok) < 2 or np.ptp([f for _, f in ok]) == 0:
            return False
        t0 = time.perf_counter()
        self._model = self.predictor([a for a, _ in ok], np.array([f for _, f in ok]))
        self.fit_seconds_ += time.perf_counter() - t0
        return True

    def _candidates(self) -> list[Architecture]:
        if self.pool == "space":
            archs, keys, _ = space_pool(self.space)
            return [a for a, k in zip(archs, keys) if k not in self._seen]
        parents = [a for a, _, f in sorted(self.history, key=lambda h: -h[2])[: self.top_k]]
        out, keys = [], set()
        n_mut, n_x = self.n_candidates // 2, self.n_candidates // 4
        for i in range(self.n_candidates):
            if i < n_mut:
                a = self.space.mutate(parents[int(self.rng.integers(len(parents)))], self.rng)
            elif i < n_mut + n_x and len(parents) > 1:
                p, q = self.rng.choice(len(parents), 2, replace=False)
                a = self.space.crossover(parents[p], parents[q], self.rng)
            else:
                a = self.space.sample(self.rng)
            k = self.space.canonical(a)
            if k not in keys and k not in self._seen:
                keys.add(k)
                out.append(a)
        return out

    def _posterior(self, cands: list[Architecture], acquisition: str) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) of the fitted predictor at ``cands`` (std 0 for ``mean`` or a predictor without one);
        every candidate counts as one predictor call (``scored_``). In penalty mode the mean is lowered by the
        constraint's penalty, as the fitness of a measured architecture is."""
        t0 = time.perf_counter()
        mean, std = posterior(self._model, cands, with_std=acquisition != "mean")
        self.score_seconds_ += time.perf_counter() - t0
        self.scored_ += len(cands)
        return self._penalised(np.nan_to_num(mean, nan=-np.inf), cands), std

    def _penalised(self, mean: np.ndarray, archs: list[Architecture]) -> np.ndarray:
        """``mean`` lowered by the constraint's penalty in penalty mode (as a measured fitness is)."""
        if self.constraint is None or self.constraint.mode != "penalty":
            return mean
        return mean - self.constraint.weight * self._fit_spread * np.minimum(self.constraint.violation(archs), 1e6)

    def incumbent(self) -> float | None:
        """EI's incumbent: the best posterior mean (noise-free) of the fitted predictor at the measured
        architectures (penalised as candidates are in penalty mode), not the best noisy measurement, which
        over-states the function where the noise is large. None before a predictor is fitted."""
        archs = [a for a, _, f in self.history if np.isfinite(f)]
        if self._model is None or not archs:
            return None
        mean = self._penalised(np.asarray(self._model.predict(archs), dtype=float), archs)
        mean = mean[np.isfinite(mean)]
        return float(mean.max()) if len(mean) else None

    def _select(self, cands: list[Architecture], n: int) -> list[Architecture]:
        """The ``n`` candidates the acquisition picks (a batch, by ``batch_acquisition``, for ``n > 1``)."""
        acquisition = self.acquisition if n == 1 else self.batch_acquisition
        mean, std = self._posterior(cands, acquisition)
        best_f = self.incumbent() if acquisition == "ei" else None
        idx = select(self._model, cands, n, acquisition, self.rng, best_f=best_f, beta=self.beta, mean_std=(mean, std))
        return [cands[i] for i in idx]

    # ------------------------------------------------------------------ ask
    def _suggest(self, n):
        if self._n_support_given < self.n_support:
            n_top = self.n_support - self.support_random  # source-ranked (or random) first, then random
            src, end = (
                (self._support_src, n_top) if self._n_support_given < n_top else (self._support_rand, self.n_support)
            )
            src._seen |= self._seen
            out = src._suggest(min(n, end - self._n_support_given))
            self._n_support_given += len(out)
            return out
        if not self._refit():
            self.fallbacks_ += 1
            return self._one_fresh()
        return self._guided(n) or self._one_fresh()

    def _guided(self, n: int) -> list[Architecture]:
        """Up to ``n`` picks of the fitted predictor's acquisition (empty when no candidate is left)."""
        cands = self._candidates()
        if cands:
            mask = self._allowed(cands)
            cands = [c for c, m in zip(cands, mask) if m]
        return self._select(cands, n) if cands else []

    def _one_fresh(self) -> list[Architecture]:
        a = self._fresh_sample()
        return [a] if a is not None else []


#: The strategy's former name (it is Bayesian optimisation over a candidate set, not evolution).
SEARCHERS.alias("guided-evolution", "guided")


__all__ = ["RandomSearch", "RegularizedEvolution", "LocalSearch", "SourceRankSearch", "GuidedEvolution", "ACQUISITIONS"]
