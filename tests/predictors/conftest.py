"""Helpers for the predictor tests (the benchmark tables they read are session fixtures in tests/conftest.py)."""


def support_and_query(table, k: int, n_query: int, pool: int, task: str = "ImageNet16-120", metric: str = "test_acc"):
    """(space, support archs, their values, query archs, their values): ``k`` support architectures distinct by
    canonical key (isomorphic cells are one architecture), drawn in a seeded permutation of ``task``'s records, and
    up to ``n_query`` query ones among the permutation's first ``pool``, none of a support architecture's class."""
    import numpy as np

    sp = table.space
    archs = table.archs(task, metric)
    y = table.vector(task, metric, archs)
    perm = np.random.default_rng(0).permutation(len(archs))
    sup, keys = [], set()
    for i in perm:
        if len(sup) < k and sp.canonical(archs[i]) not in keys:
            sup.append(i)
            keys.add(sp.canonical(archs[i]))
    qry = [i for i in perm[:pool] if sp.canonical(archs[i]) not in keys][:n_query]
    return sp, [archs[i] for i in sup], y[sup], [archs[i] for i in qry], y[qry]
