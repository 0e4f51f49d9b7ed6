"""NB-201 searches follow the published protocol by default: reward = 12-epoch validation accuracy (valid_acc@12),
report = 200-epoch test accuracy (test_acc@200); sources stay the other datasets' 200-epoch test accuracy."""

import json

import numpy as np
import pytest

from surrogate_nas.benchmarks import TargetLeakError
from surrogate_nas.search import SearchConfig, SearchError, make_searcher
from surrogate_nas.search.predictor_factory import source_scores
from surrogate_nas.search.run import run_search


def cfg(tmp_path, name="run", **kw):
    base = dict(space="nb201", task="ImageNet16-120", strategy="random", budget=8, seed=3, progress=False,
                out=str(tmp_path / name))
    base.update(kw)
    return SearchConfig(**base)


def test_defaults_are_the_protocol():
    c = SearchConfig(task="cifar100", strategy="random").resolved()
    assert (c.benchmark, c.metric, c.test_metric) == ("nb201", "valid_acc@12", "test_acc@200")
    # the bare validation metric goes with the same report; the test metric itself is the noise-free mode
    assert SearchConfig(task="cifar100", strategy="random", metric="valid_acc").resolved().test_metric == "test_acc@200"
    assert SearchConfig(task="cifar100", strategy="random", metric="test_acc").resolved().test_metric == "test_acc"
    assert SearchConfig(space="nas-bench-graph", task="cora", strategy="random").resolved().test_metric == "test_perf"


def test_a_default_search_records_the_12_epoch_reward_and_the_200_epoch_test(tmp_path, nb201_table):
    r = run_search(cfg(tmp_path))
    traj = r.trajectory
    archs = traj["arch"].tolist()
    np.testing.assert_array_equal(traj["value"].to_numpy(float),
                                  nb201_table.vector("ImageNet16-120", "valid_acc@12", archs))
    np.testing.assert_array_equal(traj["test"].to_numpy(float), nb201_table.vector("ImageNet16-120", "test_acc", archs))
    assert not np.array_equal(traj["value"].to_numpy(float), traj["test"].to_numpy(float))
    i = int(np.argmax(traj["value"].to_numpy(float)))  # the best reward's architecture is the one reported
    assert r.best_arch == archs[i] and r.best_test == traj["test"].iloc[i]
    best = json.loads((r.out / "best.json").read_text())
    assert (best["metric"], best["test_metric"], best["noise_free"]) == ("valid_acc@12", "test_acc@200", False)
    report = (r.out / "report.md").read_text()
    assert "metric: valid_acc@12 (max); reported: test_acc@200\n" in report and "noise-free" not in report


def test_searching_the_test_metric_is_labelled_noise_free(tmp_path):
    for name, metric, test in (("a", "test_acc", None), ("b", "test_acc@200", None), ("c", "test_acc", "test_acc@200")):
        r = run_search(cfg(tmp_path, name, metric=metric, test_metric=test))
        assert r.info["noise_free"] and np.array_equal(r.trajectory["value"], r.trajectory["test"])
        assert "(noise-free simulation: search metric = test metric)" in (r.out / "report.md").read_text()


def test_an_unknown_fidelity_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(SearchError, match=r"no metric 'valid_acc@200'; it has test_acc, valid_acc \(by fidelity: "
                                          r"test_acc@12, test_acc@200, valid_acc@12\)"):
        run_search(cfg(tmp_path, metric="valid_acc@200"))
    assert not (tmp_path / "run").exists()


def test_source_rank_orders_by_the_sources_200_epoch_test_accuracy(tmp_path, nb201_table):
    r = run_search(cfg(tmp_path, strategy="source-rank", budget=5))
    space = nb201_table.space
    archs = space.enumerate()
    score = source_scores(nb201_table, ["cifar10", "cifar100"], "test_acc")(archs)
    top = [space.format(archs[i]) for i in np.argsort(-score, kind="stable")[:5]]
    assert r.trajectory["arch"].tolist() == top
    # the 12-epoch order of the sources would be another one: the default does not read it
    other = source_scores(nb201_table, ["cifar10", "cifar100"], "valid_acc@12")(archs)
    assert r.trajectory["arch"].tolist() != [space.format(archs[i]) for i in np.argsort(-other, kind="stable")[:5]]
    # option source_metric reads another metric of the sources (never the target's)
    r2 = run_search(cfg(tmp_path, "b", strategy="source-rank", budget=5, options={"source_metric": "valid_acc@12"}))
    assert r2.trajectory["arch"].tolist() == [space.format(archs[i]) for i in np.argsort(-other, kind="stable")[:5]]


def test_the_isolation_guard_still_refuses_the_target_under_any_metric(nb201_table):
    for metric in ("valid_acc@12", "test_acc"):
        with pytest.raises(TargetLeakError):
            make_searcher("source-rank", "nb201", 0, {"source_tasks": ["cifar10", "ImageNet16-120"]}, nb201_table,
                          "ImageNet16-120", "valid_acc@12", source_metric=metric)
