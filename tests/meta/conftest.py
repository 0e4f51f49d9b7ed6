"""One torch thread: on a shared 2-core machine, torch's default of one thread per core makes the GNN's
scatter kernels ~10x slower than a single thread."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_ckpt(nb201_table):
    """A small meta-trained NB-201 checkpoint (sources cifar10, cifar100) for mechanics tests."""
    from surrogate_nas.meta.maml import MetaConfig
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors.gnn import ModelConfig

    return pretrain(nb201_table, ["cifar10", "cifar100"], "test_acc", ModelConfig(hidden=8, layers=1),
                    MetaConfig(iterations=4, val_every=2, meta_batch=2), benchmark_name="nb201", progress=False)


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
