"""Search-test fixtures: a tiny NB-201 checkpoint (seconds to meta-train), one thread for torch."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def nb201_ckpt_dir(nb201_table, tmp_path_factory):
    from surrogate_nas.meta.checkpoint import save_checkpoint
    from surrogate_nas.meta.maml import MetaConfig
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors.gnn import ModelConfig

    ckpt = pretrain(nb201_table, ["cifar10", "cifar100"], "test_acc", model_config=ModelConfig(hidden=32, layers=2),
                    meta_config=MetaConfig(iterations=20, val_every=10), benchmark_name="nb201", progress=False)
    return save_checkpoint(ckpt, tmp_path_factory.mktemp("ckpt") / "nb201")


@pytest.fixture(scope="session")
def nb201_ckpt(nb201_ckpt_dir):
    from surrogate_nas.meta.checkpoint import load_checkpoint

    return load_checkpoint(nb201_ckpt_dir)
