"""experiments/predictor_quality.py: methods come from the registry, every one is checked for target
isolation, and support/query are split by canonical key."""

import numpy as np
import pytest

from surrogate_nas.benchmarks import TargetLeakError
from surrogate_nas.predictors.inputs import SourceValues
from tests.conftest import load_experiment


@pytest.fixture(scope="module")
def pq():
    return load_experiment("predictor_quality")


def test_methods_are_registered_predictors(pq, nb201_table):
    """Each table column is the registered predictor of its name (the same class, the same predictions as one made
    from the registry), and it fits a real support and ranks the target's other architectures."""
    from surrogate_nas.predictors import make_predictor
    from surrogate_nas.predictors.metrics import kendall_tau

    src = SourceValues(nb201_table, ("cifar10", "cifar100"), "test_acc")
    sp = nb201_table.space
    archs = nb201_table.archs("ImageNet16-120", "test_acc")
    y = nb201_table.vector("ImageNet16-120", "test_acc", archs)
    sup, qry = pq.split(sp, archs, 30, np.random.default_rng(0))
    qry = qry[:500]
    a_sup, a_qry = [archs[i] for i in sup], [archs[i] for i in qry]
    # measured tau: source-transfer 0.87, rf 0.39, scratch-gnn 0.58
    for method, min_tau in (("source-transfer", 0.7), ("rf", 0.25), ("scratch-gnn", 0.35)):
        p = pq.build(method, sp, src, {}, 0, "ImageNet16-120")
        name, _, options = pq.METHODS[method]
        ref = make_predictor(name, space=sp, seed=0, sources=src, **options)
        assert type(p) is type(ref), method
        pred = p.fit(a_sup, y[sup]).predict(a_qry)
        assert pred.shape == (len(qry),) and np.isfinite(pred).all(), method
        np.testing.assert_allclose(pred, ref.fit(a_sup, y[sup]).predict(a_qry), err_msg=method)
        assert kendall_tau(y[qry], pred) > min_tau, method


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
