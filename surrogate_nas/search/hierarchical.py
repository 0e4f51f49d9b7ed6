"""Hierarchical architecture search (HAS): choose high-level modules first, then refine the ops inside them.

The coarse level is the space's skeleton (``space.skeleton``: NB-201 which edges are zero / identity / an op;
NAS-Bench-Graph the link pattern); a *group* is the set of architectures (one per canonical key) sharing one.

1. **Support** (as guided search): the top of the source ranking, measured.
2. **Group prior**, learned across the source tasks: a group's score is the mean source score of its
   ``group_top`` best members on the source tasks (how well the skeleton's best members rank there). Without
   source tasks: the predictor's same view of every group, adapted on the support (one whole-space scoring).
3. **Coarse phase** (``coarse`` evaluations): the ``probe_groups`` best groups by prior are probed in that order;
   a probe measures the group's best member by the acquisition of the predictor re-fitted on every measurement
   so far, scoring that group's members only.
4. **Commit**: group beliefs = the best value measured in the group (support and probes; ties by prior). The
   ``commit`` best groups are kept, as long as together they hold at most ``commit_fraction`` of the space (at
   least one group).
5. **Fine phase**: guided search restricted to the committed groups' members: at every step the re-fitted
   predictor scores those members only. A committed group whose members are all measured is replaced by the
   next group by belief.

``scored_`` counts predictor calls (candidates scored), as for flat guided search; ``committed_`` holds the
committed groups, ``phase_`` the current phase and ``probed_`` the probed groups in order.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from ..spaces import Architecture
from .base import SEARCHERS, SearchError, space_pool
from .defaults import HAS
from .strategies import GuidedEvolution

_HAS: dict[str, Any] = HAS  # the defaults' values are plain numbers and names


def _positive_int(name: str, v, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise SearchError(f"hierarchical: {name} must be an int >= {low}, got {v!r}")
    return int(v)


@SEARCHERS.register("hierarchical")
class HierarchicalSearch(GuidedEvolution):
    """Two-level hierarchical search (see the module docstring). Options besides guided search's:
    ``probe_groups`` (groups probed in the coarse phase), ``coarse`` (its evaluations; default
    ``probe_groups``: one probe per group), ``commit`` (groups committed to), ``commit_fraction`` (the most of
    the space the committed groups may hold), ``group_top`` (members averaged by the group prior); ``acquisition``
    defaults to expected improvement (:data:`~surrogate_nas.search.defaults.HAS`)."""

    name = "hierarchical"

    def __init__(
        self,
        space,
        seed=0,
        constraint=None,
        probe_groups: int = _HAS["probe_groups"],
        coarse: int | None = None,
        commit: int = _HAS["commit"],
        commit_fraction: float = _HAS["commit_fraction"],
        group_top: int = _HAS["group_top"],
        **kwargs,
    ):
        ignored = sorted(set(kwargs) & {"pool", "n_candidates", "top_k"})
        if ignored:
            raise SearchError(
                f"hierarchical: option {ignored[0]!r} is guided search's candidate generation; hierarchical "
                "search scores the members of the groups it commits to and takes none"
            )
        kwargs["pool"] = "space"
        kwargs.setdefault("acquisition", _HAS["acquisition"])
        super().__init__(space, seed, constraint, **kwargs)
        self.probe_groups = _positive_int("probe_groups", probe_groups)
        self.coarse = _positive_int("coarse", self.probe_groups if coarse is None else coarse, 0)
        self.commit = _positive_int("commit", commit)
        if (
            isinstance(commit_fraction, bool)
            or not isinstance(commit_fraction, (int, float))
            or not 0 < commit_fraction <= 1
        ):
            raise SearchError(f"hierarchical: commit_fraction must be a number in (0, 1], got {commit_fraction!r}")
        self.commit_fraction = float(commit_fraction)
        self.group_top = _positive_int("group_top", group_top)
        archs, keys, skels = space_pool(self.space)
        self._members: dict[Hashable, list[int]] = {}
        for i, g in enumerate(skels):
            self._members.setdefault(g, []).append(i)
        self._pool, self._keys, self._skel_of_key = archs, keys, dict(zip(keys, skels))
        self._source_scores = kwargs.get("source_scores")
        self._prior: dict[Hashable, float] | None = None
        self._order: list[Hashable] = []  # groups by prior, best first
        self.probed_: list[Hashable] = []
        self.committed_: list[Hashable] = []
        self.phase_ = "support"
        self._coarse_given = 0

    # ------------------------------------------------------------------ groups
    def run_info(self) -> dict:
        return {**super().run_info(), "probed": list(self.probed_), "committed": list(self.committed_)}

    def _group_view(self, scores: np.ndarray) -> dict[Hashable, float]:
        """Mean of the ``group_top`` best scores of each group's members."""
        return {g: float(np.mean(np.sort(scores[idx])[::-1][: self.group_top])) for g, idx in self._members.items()}

    def _make_prior(self) -> None:
        if self._source_scores is not None:
            s = np.nan_to_num(np.asarray(self._source_scores(list(self._pool)), dtype=float), nan=-np.inf)
        else:  # no source tasks: the adapted predictor's view of the whole space, once
            s, _ = self._posterior(list(self._pool), "mean")
        self._prior = prior = self._group_view(s)
        size = {g: len(idx) for g, idx in self._members.items()}
        self._order = sorted(prior, key=lambda g: (-prior[g], -size[g], str(g)))

    def _unmeasured(self, groups) -> list[Architecture]:
        out = [self._pool[i] for g in groups for i in self._members[g] if self._keys[i] not in self._seen]
        return [a for a, ok in zip(out, self._allowed(out)) if ok] if out else out

    def _beliefs(self) -> dict[Hashable, float]:
        """Best fitness measured per group (groups with a finite measurement)."""
        best: dict[Hashable, float] = {}
        for a, _, f in self.history:
            if np.isfinite(f):
                g = self._skel_of_key[self.space.canonical(a)]
                best[g] = max(best.get(g, -np.inf), f)
        return best

    def _commit(self) -> None:
        belief = self._beliefs()
        rank = {g: i for i, g in enumerate(self._order)}
        ranked = sorted(belief, key=lambda g: (-belief[g], rank[g]))
        ranked += [g for g in self._order if g not in belief]  # unmeasured groups last, by prior
        ranked = [g for g in ranked if self._unmeasured([g])]
        total, cap = 0, self.commit_fraction * len(self._pool)
        out: list = []
        for g in ranked:
            if len(out) >= self.commit:
                break
            n = len(self._members[g])
            if out and total + n > cap:
                continue
            out.append(g)
            total += n
        self.committed_ = out

    # ------------------------------------------------------------------ ask
    def _guided(self, n):
        if self._prior is None:
            self._make_prior()
        out: list[Architecture] = []
        while len(out) < n and self._coarse_given < self.coarse:
            self.phase_ = "coarse"
            todo = [g for g in self._order[: self.probe_groups] if g not in set(self.probed_)]
            g = todo[0] if todo else self._order[len(self.probed_) % min(self.probe_groups, len(self._order))]
            taken = {self.space.canonical(o) for o in out}
            cands = [a for a in self._unmeasured([g]) if self.space.canonical(a) not in taken]
            self.probed_.append(g)
            self._coarse_given += 1
            if cands:
                out += self._select(cands, 1)
        if out:
            return out
        self.phase_ = "fine"
        if not self.committed_ or not all(self._unmeasured([g]) for g in self.committed_):
            self._commit()
        cands = self._unmeasured(self.committed_)
        return self._select(cands, n) if cands else []


__all__ = ["HierarchicalSearch"]
