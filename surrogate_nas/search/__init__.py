"""Choosing what to evaluate: ask/tell searchers, evaluators, the crash-safe journal and the
search loop. Entry point for the CLI: :func:`run_search` with a :class:`SearchConfig`."""

from .base import SEARCHERS, Constraint, Searcher, SearchError, get_searcher
from .evaluators import EVALUATORS, TableEvaluator, TrainEvaluator
from .journal import Journal
from .loop import run_loop, trajectory_frame
from .strategies import (GuidedEvolution, HierarchicalSearch, LocalSearch, RandomSearch, RegularizedEvolution,
                         SourceRankSearch, space_pool)
from .run import SearchConfig, SearchResult, make_searcher, run_search

__all__ = [
    "SEARCHERS", "Constraint", "Searcher", "SearchError", "get_searcher", "EVALUATORS", "TableEvaluator",
    "TrainEvaluator", "Journal", "run_loop", "trajectory_frame", "GuidedEvolution", "HierarchicalSearch",
    "LocalSearch", "RandomSearch", "RegularizedEvolution", "SourceRankSearch", "space_pool", "SearchConfig",
    "SearchResult", "make_searcher", "run_search",
]
