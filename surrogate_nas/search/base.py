"""The ask/tell searcher interface, its registry, and metric constraints.

A searcher never knows who evaluates its suggestions: the loop calls ``suggest(n)``, has the
architectures evaluated by whatever evaluator it was given, and reports back with
``observe(archs, values)``. Searchers always *maximise* the values they are told (the loop flips
the sign for a minimised metric). A searcher is deterministic given its seed and the sequence of
observations, which is what makes resuming from the journal a plain replay.
"""

from __future__ import annotations

import abc
import math
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import SurrogateNASError
from ..registry import Registry
from ..spaces import Architecture, SearchSpace, get_space


class SearchError(SurrogateNASError):
    """Bad search input, an exhausted space, or a journal that does not match the run."""


class SpaceExhausted(SearchError):
    """A searcher has no architecture left to suggest (every allowed one was evaluated)."""


# ---------------------------------------------------------------------- constraints
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


@dataclass
class Constraint:
    """``metric <= limit`` (or ``>=``) on a per-architecture quantity given by ``values(archs)``.

    ``values`` is any callable returning one number per architecture: a table lookup
    (e.g. the benchmark's measured latency) or a second predictor's ``predict``.
    ``mode="filter"`` never suggests an infeasible architecture; ``mode="penalty"`` lets it be
    suggested but lowers its fitness by ``weight * relative violation`` (times the spread of the
    values seen so far), so selection prefers feasible ones.
    """

    metric: str
    op: str
    limit: float
    values: Callable[[Sequence[Architecture]], np.ndarray] | None = None
    mode: str = "filter"
    weight: float = 1.0
    #: How messages name the constraint (default: ``constraint metric<=limit (mode)``).
    label: str | None = None

    def __post_init__(self):
        if self.op not in ("<=", ">="):
            raise SearchError(f"constraint operator must be '<=' or '>=', got {self.op!r}")
        if self.mode not in ("filter", "penalty"):
            raise SearchError(f"constraint mode must be 'filter' or 'penalty', got {self.mode!r}")
        if not math.isfinite(float(self.limit)):
            raise SearchError(f"constraint limit must be a finite number, got {self.limit!r}")
        self.limit = float(self.limit)

    @classmethod
    def parse(cls, text: str, values=None, mode: str = "filter", weight: float = 1.0) -> Constraint:
        """Parse ``"latency<=0.005"`` / ``"params>=1.5"``."""
        m = _CONSTRAINT.match(text or "")
        if not m:
            raise SearchError(f"cannot parse constraint {text!r}; write it like 'latency<=0.005'")
        try:
            limit = float(m.group(3))
        except ValueError:
            raise SearchError(f"constraint {text!r}: {m.group(3)!r} is not a number") from None
        return cls(m.group(1), m.group(2), limit, values, mode, weight)

    def violation(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Relative violation per architecture (0 = feasible; NaN values count as infeasible)."""
        if self.values is None:
            raise SearchError(f"constraint on {self.metric!r} has no source of values")
        v = np.asarray(self.values(list(archs)), dtype=float).reshape(-1)
        if len(v) != len(archs):
            raise SearchError(f"constraint on {self.metric!r}: got {len(v)} values for {len(archs)} architectures")
        scale = abs(self.limit) or 1.0
        over = (v - self.limit) if self.op == "<=" else (self.limit - v)
        out = np.maximum(over, 0.0) / scale
        return np.where(np.isnan(v), np.inf, out)

    def feasible(self, archs: Sequence[Architecture]) -> np.ndarray:
        return self.violation(archs) == 0.0

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.limit:g} ({self.mode})"

    def describe(self) -> str:
        """The constraint as messages name it."""
        return self.label or f"constraint {self}"


# ---------------------------------------------------------------------- the whole space
@lru_cache(maxsize=8)
def _space_pool(name: str) -> tuple[tuple[Architecture, ...], tuple[str, ...], tuple[Hashable, ...]]:
    """One representative per canonical key (first in ``enumerate()`` order), its key and skeleton."""
    space = get_space(name)
    archs, keys, seen = [], [], set()
    for a in space.enumerate():
        k = space.canonical(a)
        if k not in seen:
            seen.add(k)
            archs.append(a)
            keys.append(k)
    return tuple(archs), tuple(keys), tuple(space.skeleton(a) for a in archs)


def space_pool(space: SearchSpace | str):
    """(representatives, canonical keys, skeletons) of the whole space, cached per space."""
    return _space_pool(get_space(space).name)


# ---------------------------------------------------------------------- searcher base
class Searcher(abc.ABC):
    """Base of all searchers: bookkeeping of seen keys, history, fitness and constraint.

    Subclasses implement ``_suggest(n)`` (return up to ``n`` *new* architectures, use
    :meth:`_is_new`/:meth:`_fresh_sample`) and optionally ``_observe(archs, values)``.
    """

    name = "searcher"
    #: The fidelity the last :meth:`suggest` asks for (epochs, or the fidelity of a table's records); None: the
    #: evaluator's own. The loop passes it to the evaluator (multi-fidelity searchers set it per round).
    fidelity: float | None = None

    def __init__(self, space: SearchSpace | str, seed: int = 0, constraint: Constraint | None = None):
        self.space = get_space(space)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise SearchError(f"seed must be an int, got {seed!r}")
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.constraint = constraint
        self.history: list[tuple[Architecture, float, float]] = []  # (arch, value, fitness)
        self._seen: set[str] = set()  # canonical keys observed or pending
        self._value_by_key: dict[str, float] = {}
        self._fit_by_key: dict[str, float] = {}
        self._fit_spread = 1.0

    def run_info(self) -> dict:
        """What a finished run records of this searcher besides its trajectory (``SearchResult.info``): the
        fallbacks and candidates scored of a predictor-guided searcher, a hierarchical search's groups."""
        return {"fallbacks": 0, "scored": 0}

    # ------------------------------------------------------------------ public ask/tell
    def suggest(self, n: int = 1) -> list[Architecture]:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise SearchError(f"suggest(n): n must be a positive int, got {n!r}")
        out = self._suggest(int(n))
        if not out:
            raise SpaceExhausted(self._exhausted_message())
        for a in out:
            self._seen.add(self.space.canonical(a))
        return out

    def observe(self, archs: Sequence[Architecture], values) -> None:
        archs = [self.space.coerce(a) for a in archs]
        values = np.asarray(values, dtype=float).reshape(-1)
        if len(archs) != len(values):
            raise SearchError(f"observe: {len(archs)} architectures but {len(values)} values")
        fitness = np.where(np.isnan(values), -np.inf, values)
        if self.constraint is not None and self.constraint.mode == "penalty":
            finite = [f for _, _, f in self.history if np.isfinite(f)] + [f for f in fitness if np.isfinite(f)]
            self._fit_spread = float(np.ptp(finite)) if len(finite) > 1 and np.ptp(finite) > 0 else 1.0
            viol = np.minimum(self.constraint.violation(archs), 1e6)
            fitness = fitness - self.constraint.weight * self._fit_spread * viol
        for a, v, f in zip(archs, values, fitness):
            k = self.space.canonical(a)
            self._seen.add(k)
            self._value_by_key[k] = float(v)
            self._fit_by_key[k] = float(f)
            self.history.append((a, float(v), float(f)))
        self._observe(archs, values, fitness)

    @property
    def best(self) -> tuple[Architecture, float] | None:
        """(architecture, value) of the best observation so far (by fitness), None before any."""
        if not self.history:
            return None
        a, v, _ = max(self.history, key=lambda h: h[2])
        return a, v

    # ------------------------------------------------------------------ helpers for subclasses
    def _is_new(self, arch: Architecture) -> bool:
        return self.space.canonical(arch) not in self._seen

    def _allowed(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Mask of architectures that are new and (in filter mode) feasible."""
        mask = np.array([self._is_new(a) for a in archs], dtype=bool)
        if self.constraint is not None and self.constraint.mode == "filter" and mask.any():
            idx = np.flatnonzero(mask)
            mask[idx] = self.constraint.feasible([archs[int(i)] for i in idx])
        return mask

    def _ok(self, arch: Architecture) -> bool:
        return bool(self._allowed([arch])[0])

    def _collect(self, n: int, draw: Callable[[], Architecture | None]) -> list[Architecture]:
        """Up to ``n`` architectures from ``draw()`` (None: nothing left), each marked seen as it is drawn."""
        out: list[Architecture] = []
        for _ in range(n):
            a = draw()
            if a is None:
                break
            self._seen.add(self.space.canonical(a))
            out.append(a)
        return out

    def _fresh_sample(self, tries: int = 20000) -> Architecture | None:
        """A uniformly random allowed architecture; None only when none is left."""
        if self.constraint is not None and self.constraint.mode == "filter":
            # the same first allowed sample as one-by-one, with one constraint lookup per chunk
            for _ in range(0, tries, 512):
                chunk = [self.space.sample(self.rng) for _ in range(512)]
                hits = np.flatnonzero(self._allowed(chunk))
                if len(hits):
                    return chunk[hits[0]]
        else:
            for _ in range(tries):
                a = self.space.sample(self.rng)
                if self._is_new(a):
                    return a
        # rejection sampling failed (almost everything seen or infeasible): draw from what is left
        archs, _, _ = space_pool(self.space)
        left = [a for a, ok in zip(archs, self._allowed(archs)) if ok]
        return left[int(self.rng.integers(len(left)))] if left else None

    def _exhausted_message(self) -> str:
        c = self.constraint
        if c is not None and c.mode == "filter":
            archs, _, _ = space_pool(self.space)
            n = int(c.feasible(archs).sum())
            if n == 0:
                return f"no architecture of space {self.space.name!r} satisfies {c.describe()}"
            return (
                f"{self.name}: all {n} architectures of space {self.space.name!r} allowed by {c.describe()} "
                "have been evaluated"
            )
        return (
            f"{self.name}: all {len(space_pool(self.space)[0])} architectures of space {self.space.name!r} "
            "(one per canonical key) have been evaluated"
        )

    def _observe(self, archs, values, fitness) -> None:  # noqa: B027 (an optional hook: the default does nothing)
        pass

    @abc.abstractmethod
    def _suggest(self, n: int) -> list[Architecture]:
        """Up to ``n`` new architectures (every searcher defines this)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space.name!r}, seed={self.seed}, observed={len(self.history)})"


SEARCHERS: Registry[Searcher] = Registry("search strategy", Searcher)


def get_searcher(name_or_searcher, **kwargs) -> Searcher:
    """A searcher by registered name (``random``, ``evolution``, ``local``, ``source-rank``,
    ``guided``, ``hierarchical``) or an instance passed straight through (the former name ``guided-evolution``
    is accepted and says so once)."""
    if isinstance(name_or_searcher, str) and name_or_searcher not in SEARCHERS:
        raise SearchError(f"unknown search strategy {name_or_searcher!r}; choose one of {', '.join(SEARCHERS.names())}")
    return SEARCHERS.get(name_or_searcher, **kwargs)
