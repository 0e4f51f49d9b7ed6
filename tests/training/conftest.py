"""Fixtures for the training tests: small real candidates on scikit-learn's digits (CPU, seconds)."""

from __future__ import annotations

import pytest

#: The four published NB-201 parameter-count test vectors (NASLib zero-cost NB-201 files, C=16, N=5):
#: (dataset, classes, arch, params M).
PARAM_VECTORS = [
    ("cifar100", 100, "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_1x1~2|", 0.434196),
    ("cifar100", 100, "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|skip_connect~2|", 1.051316),
    ("cifar10", 10, "|none~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|", 0.587386),
    ("cifar10", 10, "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|skip_connect~1|nor_conv_3x3~2|", 0.802426),
]

ARCH_A = PARAM_VECTORS[1][2]
ARCH_B = PARAM_VECTORS[2][2]
ARCH_C = PARAM_VECTORS[0][2]


@pytest.fixture
def tiny_config():
    """A tiny NB-201 network (C=8, N=1) and a short recipe that learns digits in a second or two.

    One intra-op thread: two threads on a busy 2-core machine slow tiny convolutions down many times.
    """
    from surrogate_nas.training import TrainConfig

    return TrainConfig(epochs=3, C=8, N=1, batch_size=128, lr=0.05, progress=False, num_threads=1)
