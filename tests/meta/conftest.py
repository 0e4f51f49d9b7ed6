"""One torch thread: on a shared 2-core machine, torch's default of one thread per core makes the GNN's
scatter kernels ~10x slower than a single thread."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    torch.set_num_threads(1)
