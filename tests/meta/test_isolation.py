"""Target isolation on every meta path: pretrain, adapt/predict (named task and unnamed support), meta-validation."""

import numpy as np
import pytest

from surrogate_nas.benchmarks import TargetLeakError
from surrogate_nas.meta.adapt import adapt
from surrogate_nas.meta.maml import MetaConfig, shared_holdout
from surrogate_nas.meta.pretrain import pretrain
from surrogate_nas.meta.tasks import table_tasks
from surrogate_nas.predictors.inputs import SourceValues
from surrogate_nas.predictors.gnn import ModelConfig

from .conftest import distinct_sample

TINY = dict(model_config=ModelConfig(hidden=8, layers=1), meta_config=MetaConfig(iterations=2, val_every=1, meta_batch=1),
            benchmark_name="nb201", progress=False)


@pytest.fixture(scope="module")
def sup(nb201_table):
    return distinct_sample(nb201_table.space, nb201_table.archs("ImageNet16-120", "test_acc"), 12)


def values(table, task, archs):
    return table.vector(task, "test_acc", archs)


def test_adapt_refuses_a_named_task_the_checkpoint_read(tiny_ckpt, nb201_table, sup):
    for task in ("cifar10", "cifar100"):  # source (and training) tasks of the checkpoint
        with pytest.raises(TargetLeakError, match=f"target task '{task}' is also a source/training task"):
            adapt(tiny_ckpt, (sup, values(nb201_table, task, sup)), task=task)
    p = adapt(tiny_ckpt, (sup, values(nb201_table, "ImageNet16-120", sup)), task="ImageNet16-120")
    assert np.isfinite(p.predict(sup)).all()


def test_adapt_refuses_a_named_validation_task(nb201_table, sup):
    ckpt = pretrain(nb201_table, ["cifar10"], "test_acc", val_tasks=["ImageNet16-120"], **TINY)
    with pytest.raises(TargetLeakError, match="'ImageNet16-120'"):
        adapt(ckpt, (sup, values(nb201_table, "ImageNet16-120", sup)), task="ImageNet16-120")


def test_adapt_refuses_caller_sources_that_include_the_task(tiny_ckpt, nb201_table, sup):
    sv = SourceValues(nb201_table, ("cifar10", "ImageNet16-120"), "test_acc")
    with pytest.raises(TargetLeakError, match="'ImageNet16-120'"):
        adapt(tiny_ckpt, (sup, values(nb201_table, "ImageNet16-120", sup)), sources=sv, task="ImageNet16-120")


def test_unnamed_support_that_is_a_source_tasks_values_is_refused(tiny_ckpt, nb201_table, sup):
    y = values(nb201_table, "cifar100", sup)
    with pytest.raises(TargetLeakError, match="copy of the records of source task 'cifar100'"):
        adapt(tiny_ckpt, (sup, y))
    with pytest.raises(TargetLeakError, match="'cifar100'"):  # rescaled: still the same task
        adapt(tiny_ckpt, (sup, 0.01 * y))
    many = distinct_sample(nb201_table.space, nb201_table.archs("cifar10", "test_acc"), 30, seed=1)
    with pytest.raises(TargetLeakError, match="like the records of source task 'cifar10'"):  # same ranking
        adapt(tiny_ckpt, (many, values(nb201_table, "cifar10", many) ** 2))
    adapt(tiny_ckpt, (sup, values(nb201_table, "ImageNet16-120", sup)))  # another task's values pass


def test_unnamed_support_checked_without_source_features(nb201_table, sup):
    """A checkpoint without source features still meta-trained on its tasks: the check loads its benchmark."""
    ckpt = pretrain(nb201_table, ["cifar10", "cifar100"], "test_acc", use_sources=False, **TINY)
    assert ckpt.sources["tasks"] == []
    with pytest.raises(TargetLeakError, match="'cifar10'"):
        adapt(ckpt, (sup, values(nb201_table, "cifar10", sup)))


def test_pretrain_refuses_the_target_and_leaves_it_out_by_default(nb201_table):
    for train, val in ((["cifar10", "ImageNet16-120"], []), (["cifar10"], ["ImageNet16-120"])):
        with pytest.raises(TargetLeakError, match="'ImageNet16-120'"):
            pretrain(nb201_table, train, "test_acc", val_tasks=val, target="ImageNet16-120", **TINY)
    ckpt = pretrain(nb201_table, None, "test_acc", target="ImageNet16-120", **TINY)
    assert ckpt.info["train_tasks"] == ["cifar10", "cifar100"] and ckpt.info["target"] == "ImageNet16-120"
    assert "ImageNet16-120" not in ckpt.sources["tasks"]


@pytest.mark.parametrize("train", [["cifar10", "cifar10"], ["cifar10", ""]])
def test_pretrain_refuses_repeated_or_empty_task_names(nb201_table, train):
    from surrogate_nas.errors import DataError

    with pytest.raises(DataError, match="listed twice|not a task name"):
        pretrain(nb201_table, train, "test_acc", **TINY)


def test_meta_validation_holds_out_one_set_of_architectures_for_all_tasks(nb201_table):
    tasks = table_tasks(nb201_table, ["cifar10", "cifar100", "ImageNet16-120"], "test_acc")
    sp = nb201_table.space
    train_pools, val_pools = shared_holdout(tasks, 0.2, np.random.default_rng(0))
    held = [{sp.canonical(t.archs[i]) for i in vp} for t, vp in zip(tasks, val_pools)]
    trained = [{sp.canonical(t.archs[i]) for i in tp} for t, tp in zip(tasks, train_pools)]
    assert held[0] == held[1] == held[2]  # one set, by canonical key
    assert all(not (h & tr) for h in held for tr in trained)  # held out of one task = out of every task's training
    n_keys = len({sp.canonical(a) for a in tasks[0].archs})
    assert abs(len(held[0]) - 0.2 * n_keys) <= 1
    for t, tp, vp in zip(tasks, train_pools, val_pools):
        assert len(tp) + len(vp) == len(t.archs)


def _tiny_table(n: int):
    from surrogate_nas.benchmarks import BenchmarkTable
    from surrogate_nas.spaces import get_space

    from .conftest import distinct_sample

    sp = get_space("nb201")
    archs = distinct_sample(sp, sp.enumerate()[:500], n)
    rng = np.random.default_rng(0)
    return BenchmarkTable.from_records(sp, [{"arch": sp.format(a), "task": t, "metric": "acc", "value": float(rng.normal())}
                                            for t in ("a", "b") for a in archs], f"tiny{n}")


def test_small_tables_get_a_shared_holdout_or_one_clear_error():
    from surrogate_nas.errors import DataError

    ckpt = pretrain(_tiny_table(10), ["a", "b"], "acc", **{**TINY, "benchmark_name": None})
    assert np.isfinite(ckpt.info["best_val_tau"])
    with pytest.raises(DataError, match="task 'a': 5 architectures are too few to hold some out .* give validation tasks"):
        pretrain(_tiny_table(5), ["a", "b"], "acc", **{**TINY, "benchmark_name": None})
