"""experiments/predictor_quality.py: methods come from the registry, every one is checked for target
isolation, and support/query are split by canonical key."""

import numpy as np
import pytest

from surrogate_nas.benchmarks import TargetLeakError
from surrogate_nas.predictors.features import SourceValues
from tests.conftest import load_experiment


@pytest.fixture(scope="module")
def pq():
    return load_experiment("predictor_quality")


def test_methods_are_registered_predictors(pq, nb201_table):
    src = SourceValues(nb201_table, ("cifar10", "cifar100"), "test_acc")
    for method in ("source-transfer", "rf", "scratch-gnn"):
        p = pq.build(method, nb201_table.space, src, {}, 0, "ImageNet16-120")
        assert hasattr(p, "fit") and hasattr(p, "predict")


def test_a_method_reading_the_target_is_refused(pq, nb201_table):
    src = SourceValues(nb201_table, ("cifar10", "ImageNet16-120"), "test_acc")
    for method in ("ridge-source", "rf"):  # also methods that ignore sources: the run itself is leaky
        with pytest.raises(TargetLeakError, match="predictor_quality .*'ImageNet16-120'"):
            pq.build(method, nb201_table.space, src, {}, 0, "ImageNet16-120")


def test_a_checkpoint_that_read_the_target_is_refused(pq, nb201_table):
    from types import SimpleNamespace

    ckpt = SimpleNamespace(sources={"tasks": ["cifar10"]}, info={"train_tasks": ["cifar10"], "val_tasks": ["ImageNet16-120"]})
    src = SourceValues(nb201_table, ("cifar10",), "test_acc")
    with pytest.raises(TargetLeakError, match="predictor_quality meta-gnn"):
        pq.build("meta-gnn", nb201_table.space, src, {"meta": ckpt}, 0, "ImageNet16-120")


def test_support_and_query_share_no_canonical_key(pq, nb201_table):
    sp = nb201_table.space
    archs = nb201_table.archs("ImageNet16-120", "test_acc")
    sup, qry = pq.split(sp, archs, 100, np.random.default_rng(0))
    keys = {sp.canonical(archs[i]) for i in sup}
    assert len(sup) == len(keys) == 100
    assert not keys & {sp.canonical(archs[i]) for i in qry}
    assert len(sup) + len(qry) < len(archs)  # isomorphs of support archs left the query
