"""The one target-isolation guard, on real NB-201 records."""

from __future__ import annotations

import numpy as np
import pytest

from surrogate_nas.benchmarks import TargetLeakError, check_isolation
from surrogate_nas.errors import SurrogateNASError


def test_named_target_among_sources_is_refused():
    with pytest.raises(TargetLeakError, match="target task 'cifar10' is also a source"):
        check_isolation("cifar10", ["cifar10", "cifar100"], where="pretrain")
    check_isolation("ImageNet16-120", ["cifar10", "cifar100"], where="pretrain")  # disjoint: fine
    assert issubclass(TargetLeakError, SurrogateNASError)


def _support(table, task, n, seed=0):
    archs = table.archs(task, "test_acc")
    idx = np.random.default_rng(seed).choice(len(archs), n, replace=False)
    sel = [archs[i] for i in idx]
    return sel, table.vector(task, "test_acc", sel)


@pytest.mark.parametrize("n", [4, 5, 20, 100])
@pytest.mark.parametrize("copy", [lambda y: y, lambda y: y / 100, lambda y: 100 - y, lambda y: np.round(y, 1)],
                         ids=["raw", "fraction", "error", "rounded"])
def test_support_that_is_a_source_tasks_own_values_is_refused(nb201_table, n, copy):
    archs, y = _support(nb201_table, "ImageNet16-120", n)
    with pytest.raises(TargetLeakError, match=r"exact copy of the records of source task 'ImageNet16-120'"):
        check_isolation(None, ["cifar10", "ImageNet16-120"], where="predict", table=nb201_table,
                        metric="test_acc", support=(archs, copy(y)))


def test_a_monotone_but_not_affine_copy_is_refused_by_rank_from_30_archs(nb201_table):
    archs, y = _support(nb201_table, "cifar100", 40)
    with pytest.raises(TargetLeakError, match=r"like the records of source task 'cifar100' \(Spearman 1.0000\)"):
        check_isolation(None, ["cifar100"], where="predict", table=nb201_table, metric="test_acc",
                        support=(archs, np.log(y)))
    # 29 archs are too few to tell a rank copy from a good correlate: accepted
    check_isolation(None, ["cifar100"], where="predict", table=nb201_table, metric="test_acc",
                    support=(archs[:29], np.log(y[:29])))


@pytest.mark.parametrize("seed", range(5))
def test_a_different_real_task_is_not_mistaken_for_a_source(nb201_table, seed):
    """ImageNet16-120 measurements against CIFAR sources: correlated (~0.9) but not a copy -> accepted."""
    archs, y = _support(nb201_table, "ImageNet16-120", 50, seed)
    check_isolation(None, ["cifar10", "cifar100"], where="predict", table=nb201_table, metric="test_acc",
                    support=(archs, y))


def test_too_few_or_constant_support_values_cannot_be_judged(nb201_table):
    archs, y = _support(nb201_table, "cifar10", 3)  # below SAME_VALUE_MIN_ARCHS
    check_isolation(None, ["cifar10"], where="predict", table=nb201_table, metric="test_acc", support=(archs, y))
    archs, _ = _support(nb201_table, "cifar10", 10)
    check_isolation(None, ["cifar10"], where="predict", table=nb201_table, metric="test_acc",
                    support=(archs, np.ones(10)))
