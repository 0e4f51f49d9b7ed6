"""'guided-evolution' is now 'guided' (issue #21): the old name still works everywhere a strategy is named, says
so once per process, and a run keeps its identity (journals written before the rename still resume)."""

import warnings

import pytest

from surrogate_nas.registry import Registry
from surrogate_nas.search import SEARCHERS, SearchConfig, get_searcher
from surrogate_nas.search.strategies import GuidedEvolution


@pytest.fixture
def fresh_note(monkeypatch):
    monkeypatch.setattr(SEARCHERS, "_warned", set())


def _fit(archs, values):
    return None


def test_old_name_builds_the_guided_searcher_and_warns_once(fresh_note):
    with pytest.warns(FutureWarning, match="'guided-evolution' is now 'guided'"):
        s = get_searcher("guided-evolution", space="nb201", seed=0, predictor=_fit, support="random")
    assert isinstance(s, GuidedEvolution) and s.name == "guided"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_searcher("guided-evolution", space="nb201", seed=0, predictor=_fit, support="random")  # said once already
        get_searcher("guided", space="nb201", seed=0, predictor=_fit, support="random")
    assert "guided" in SEARCHERS.names() and "guided-evolution" not in SEARCHERS.names()


def test_config_resolves_the_old_name_and_keeps_the_identity(fresh_note):
    with pytest.warns(FutureWarning):
        old = SearchConfig(strategy="guided-evolution", predictor="scratch").resolved()
    new = SearchConfig(strategy="guided", predictor="scratch").resolved()
    assert old.strategy == new.strategy == "guided"
    # the journal fingerprint of a run written before the rename
    assert old.identity() == new.identity() and new.identity()["strategy"] == "guided-evolution"
    assert SearchConfig(strategy="evolution").resolved().identity()["strategy"] == "evolution"


def test_make_searcher_and_the_grid_accept_the_old_name(fresh_note):
    from surrogate_nas.experiment.search_efficiency import method_specs
    from surrogate_nas.search.searcher_factory import make_searcher

    with pytest.warns(FutureWarning):
        s = make_searcher("guided-evolution", "nb201", 0, {"support": "random"}, predictor="scratch")
    assert isinstance(s, GuidedEvolution) and s.predictor is not None  # built as a predictor strategy
    assert {m.strategy for m in method_specs("nb201", 1, 1) if m.predictor} == {"guided", "hierarchical"}


def test_an_alias_needs_a_registered_target():
    r: Registry = Registry("thing")
    with pytest.raises(KeyError):
        r.alias("old", "new")
