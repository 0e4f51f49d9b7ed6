"""Helpers for the meta tests (the checkpoints they share are built once, in tests/conftest.py)."""


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
