"""Search spaces: what an architecture is. ``get_space(name)`` returns a shared instance."""

from __future__ import annotations

from functools import cache

from ..registry import Registry
from .base import Architecture, SearchSpace
from .nasbench_graph import NASBenchGraphProteinsSpace, NASBenchGraphSpace
from .nb201 import NB201Space

SPACES: Registry[SearchSpace] = Registry("search space", SearchSpace)
SPACES.register("nb201")(NB201Space)
SPACES.register("nas-bench-graph")(NASBenchGraphSpace)
SPACES.register("nas-bench-graph-proteins")(NASBenchGraphProteinsSpace)


@cache
def _cached(name: str) -> SearchSpace:
    return SPACES.get(name)


def get_space(name_or_space: str | SearchSpace) -> SearchSpace:
    """The space registered under ``name`` (one shared instance per name), or the instance itself."""
    if isinstance(name_or_space, SearchSpace):
        return name_or_space
    if not isinstance(name_or_space, str) or name_or_space not in SPACES:
        return SPACES.get(name_or_space)  # raises the registry's clear error
    return _cached(name_or_space)


__all__ = [
    "Architecture",
    "SearchSpace",
    "NB201Space",
    "NASBenchGraphSpace",
    "NASBenchGraphProteinsSpace",
    "SPACES",
    "get_space",
]
