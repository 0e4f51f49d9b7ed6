"""Helpers and shared fixtures of the meta tests (a deep-kernel checkpoint and ImageNet16-120 records; the other
checkpoints they share are built once, in tests/conftest.py)."""

import pytest


def distinct_sample(space, archs, k: int, seed: int = 0) -> list:
    """``k`` architectures distinct by canonical key (isomorphic cells are one architecture)."""
    import numpy as np

    out, keys = [], set()
    for i in np.random.default_rng(seed).permutation(len(archs)):
        key = space.canonical(archs[i])
        if key not in keys:
            keys.add(key)
            out.append(archs[i])
            if len(out) == k:
                return out
    raise AssertionError(f"fewer than {k} distinct architectures")


def dkt_checkpoint(table, seed=0, **meta):
    """A deep-kernel checkpoint meta-trained on NB-201's cifar10 and cifar100 for the ImageNet16-120 target
    (30 iterations, hidden 16); ``meta``: more :class:`~surrogate_nas.meta.maml.MetaConfig` options."""
    from surrogate_nas.meta.maml import MetaConfig
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors.gnn import ModelConfig

    return pretrain(table, ["cifar10", "cifar100"], "test_acc", ModelConfig(hidden=16, layers=2),
                    MetaConfig(algorithm="dkt", iterations=30, val_every=10, seed=seed, **meta), benchmark_name="nb201",
                    progress=False, target="ImageNet16-120")


@pytest.fixture(scope="session")
def dkt(nb201_table):
    """:func:`dkt_checkpoint` with the default options (built once; adapting never modifies it)."""
    return dkt_checkpoint(nb201_table)


@pytest.fixture(scope="session")
def archs(nb201_table):
    """260 NB-201 cells distinct by canonical key and their ImageNet16-120 test accuracy."""
    a = distinct_sample(nb201_table.space, nb201_table.space.enumerate(), 260, seed=3)
    return a, nb201_table.vector("ImageNet16-120", "test_acc", a)
