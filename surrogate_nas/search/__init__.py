"""Choosing what to evaluate: ask/tell searchers, evaluators, the crash-safe journal and the
search loop. Entry point for the CLI: :func:`run_search` with a :class:`SearchConfig`.

Modules, in the order a run uses them: ``config`` (SearchConfig, SearchResult), ``benchmark_tables``
(defaults, cache), ``evaluators`` (registry), ``checks`` (model space, target isolation),
``predictor_factory`` (the predictor a guided searcher re-fits), ``searcher_factory``
(make_searcher), ``base``/``strategies``/``hierarchical`` (the searchers), ``acquisition`` (BoTorch acquisition
over candidate sets), ``journal``, ``loop``, ``run`` (run_search),
``results`` and ``report`` (files a person reads).
"""

from .acquisition import ACQUISITIONS
from .base import SEARCHERS, Constraint, Searcher, SearchError, SpaceExhausted, get_searcher, space_pool
from .config import SearchConfig, SearchResult
from .evaluators import EVALUATORS, TableEvaluator, TrainEvaluator
from .hierarchical import HierarchicalSearch
from .journal import Journal
from .loop import run_loop, trajectory_frame
from .multifidelity import PromotionSearch
from .run import run_search
from .searcher_factory import make_searcher
from .strategies import GuidedEvolution, LocalSearch, RandomSearch, RegularizedEvolution, SourceRankSearch

__all__ = [
    "ACQUISITIONS",
    "SEARCHERS",
    "Constraint",
    "Searcher",
    "SearchError",
    "SpaceExhausted",
    "get_searcher",
    "EVALUATORS",
    "TableEvaluator",
    "TrainEvaluator",
    "Journal",
    "run_loop",
    "trajectory_frame",
    "GuidedEvolution",
    "HierarchicalSearch",
    "PromotionSearch",
    "LocalSearch",
    "RandomSearch",
    "RegularizedEvolution",
    "SourceRankSearch",
    "space_pool",
    "SearchConfig",
    "SearchResult",
    "make_searcher",
    "run_search",
]
