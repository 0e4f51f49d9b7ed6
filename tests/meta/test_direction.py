"""A lower-is-better metric (latency) is read negated, as the source tasks' ranks are (high = good), in meta-training
and in adaptation alike, so the transfer prior weighs the sources by positive support correlations; predictions come
back in the support's units. Real records: the shipped NB-201 CPU latency table."""

import json

import numpy as np
import pytest

from surrogate_nas.meta.adapt import MetaGNNPredictor
from surrogate_nas.meta.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from surrogate_nas.meta.maml import MetaConfig
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.meta.tasks import make_episode, table_tasks
from surrogate_nas.predictors.gnn import ModelConfig
from surrogate_nas.predictors.inputs import SourceValues
from surrogate_nas.predictors.metrics import spearman_rho

from ..conftest import REPO

TARGET = "t1-b8-fp32"


@pytest.fixture(scope="module")
def latency():
    from surrogate_nas.benchmarks.readers import read_table

    return read_table(REPO / "data" / "latency" / "nb201_cpu_latency.csv", "nb201", metric="latency_ms")


@pytest.fixture(scope="module")
def sources(latency):
    return SourceValues(latency, tuple(t for t in latency.tasks if t != TARGET), "latency_ms", higher_is_better=False)


@pytest.fixture(scope="module")
def checkpoint(latency):
    """A small deep-kernel checkpoint meta-trained on the other settings, latency lower-is-better."""
    return pretrain(latency, None, "latency_ms", ModelConfig(hidden=16, layers=2),
                    MetaConfig(algorithm="dkt", iterations=20, val_every=10, seed=0), progress=False,
                    higher_is_better=False, target=TARGET)


def test_an_episode_of_a_lower_is_better_task_reads_its_values_negated(latency, sources):
    task = table_tasks(latency, [TARGET], "latency_ms", SourceValues(latency, tuple(latency.tasks), "latency_ms",
                                                                      higher_is_better=False))[0]
    assert not task.higher_is_better
    ep = make_episode(task, np.arange(20), np.arange(20, 60))
    ys = task.y[:20]
    assert np.allclose(ep.y_support.numpy(), -(ys - ys.mean()) / ys.std(), atol=1e-6)
    assert (ep.corr.numpy() > 0.3).all()  # the other settings' speed ranks agree with the negated latency
    up = table_tasks(latency, [TARGET], "latency_ms")[0]  # read as higher-is-better: the same ranks disagree
    assert up.higher_is_better and (make_episode(up, np.arange(20), np.arange(20, 60)).corr.numpy() < 0).all()


def test_a_lower_is_better_fit_is_the_negated_fit_of_the_negated_values(latency, sources, checkpoint):
    archs = latency.archs(TARGET, "latency_ms")
    y = latency.vector(TARGET, "latency_ms", archs)
    sup, qry = archs[:10], archs[10:300]
    down = MetaGNNPredictor(checkpoint, sources=sources, task=TARGET).fit(sup, y[:10])
    up = MetaGNNPredictor(checkpoint, sources=sources, task=TARGET, values_negated=True).fit(sup, -y[:10])
    assert not down.values_up() and up.values_up()
    assert (down.corr_.numpy() > 0).all()  # the prior weighs every setting
    m_down, s_down = down.predict(qry, return_std=True)
    m_up, s_up = up.predict(qry, return_std=True)
    assert np.allclose(m_down, -m_up, rtol=1e-6, atol=1e-9) and np.allclose(s_down, s_up, rtol=1e-6)
    assert abs(np.median(m_down) - np.median(y[10:300])) < 3 * np.std(y)  # in the support's units (ms)
    assert spearman_rho(y[10:300], m_down) > 0.5


def test_a_version_1_checkpoint_of_a_lower_is_better_metric_is_refused(checkpoint, dkt, tmp_path):
    for name, ck in (("latency", checkpoint), ("accuracy", dkt)):
        d = tmp_path / name
        save_checkpoint(ck, d)
        cfg = json.loads((d / "config.json").read_text())
        cfg["format_version"] = 1
        (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="format version 1 of a lower-is-better metric .*pretrain it again"):
        load_checkpoint(tmp_path / "latency")
    assert load_checkpoint(tmp_path / "accuracy").sources["higher_is_better"]  # read as before


def test_a_minimising_search_ranks_and_fits_in_its_direction(latency, checkpoint):
    """A search that minimises latency maximises its negation: its source scores put the settings' fast cells first,
    and its meta-predictor is told its values are the metric negated (a maximising one is not)."""
    from surrogate_nas.search import make_searcher
    from surrogate_nas.search.predictor_factory import _named_inputs

    assert _named_inputs("meta", "meta", checkpoint, TARGET, None, "anchored", maximize=False)["values_negated"]
    assert not _named_inputs("meta", "meta", checkpoint, TARGET, None, "anchored")["values_negated"]
    y = latency.series(TARGET, "latency_ms")
    for maximize in (False, True):
        s = make_searcher("source-rank", "nb201", 0, {}, latency, TARGET, "latency_ms", maximize=maximize)
        first = [latency.space.format(a) for a in s.suggest(20)]
        assert (y[first].median() < y.median()) == (not maximize)


def test_zero_shot_of_a_lower_is_better_metric_is_the_negated_mean_source_rank(latency, sources, checkpoint):
    archs = latency.archs(TARGET, "latency_ms")
    p = MetaGNNPredictor(checkpoint, sources=sources, task=TARGET).fit([], [])
    pred = p.predict(archs)
    assert np.array_equal(pred, -np.nanmean(sources(latency.space, archs), axis=1).astype(float))
    assert spearman_rho(latency.vector(TARGET, "latency_ms", archs), pred) > 0.7  # slow cells predicted slow
