"""Free features as predictor inputs: FreeFeatureValues and the baselines that read them (real NAS-Bench-Graph records)."""

import numpy as np
import pytest

from surrogate_nas.benchmarks import TargetLeakError
from surrogate_nas.errors import DataError
from surrogate_nas.predictors import make_predictor
from surrogate_nas.predictors.inputs import FreeFeatureValues, SourceValues, input_columns
from surrogate_nas.predictors.metrics import kendall_tau


def test_ranks_in_range_and_per_task(nbg_table):
    archs = nbg_table.archs("cora", "valid_perf")[:300]
    f = FreeFeatureValues(nbg_table, "cora", ("params", "latency"), "valid_perf")
    m = f(nbg_table.space, archs)
    assert m.shape == (300, 2) and m.dtype == np.float32
    assert np.isfinite(m).all() and m.min() >= -1 and m.max() <= 1
    # latency is measured per dataset: another dataset's ranks differ, params follow the dataset too
    other = f.with_task("arxiv")(nbg_table.space, archs)
    assert not np.allclose(m[:, 1], other[:, 1])
    # the cache answers a second call identically, in any order
    assert np.array_equal(f(nbg_table.space, archs[::-1]), m[::-1])


def test_refusals_name_the_value(nbg_table):
    with pytest.raises(TargetLeakError, match="latency"):
        FreeFeatureValues(nbg_table, "cora", ("params", "latency"), "latency")
    with pytest.raises(DataError, match="'synflow'.*available: params, latency"):
        FreeFeatureValues(nbg_table, "cora", ("synflow",), "valid_perf")
    with pytest.raises(DataError, match="need the task"):
        FreeFeatureValues(nbg_table, None, ("params",), "valid_perf")


def test_baselines_read_the_columns(nbg_table):
    archs = nbg_table.archs("photo", "valid_perf")
    y = nbg_table.vector("photo", "valid_perf", archs)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(archs))
    sup, qry = idx[:50], idx[50:2050]
    s_archs, q_archs = [archs[i] for i in sup], [archs[i] for i in qry]
    sources = SourceValues(nbg_table, ("cora", "citeseer"), "valid_perf")
    feats = FreeFeatureValues(nbg_table, "photo", ("params", "latency"), "valid_perf")
    assert input_columns(sources, feats, nbg_table.space, s_archs).shape == (50, 4)
    for name in ("ridge-source", "rf-source", "gbm", "rf"):
        plain = make_predictor(name, space=nbg_table.space, sources=sources, seed=0).fit(s_archs, y[sup])
        with_f = make_predictor(name, space=nbg_table.space, sources=sources, features=feats, seed=0).fit(s_archs, y[sup])
        p0, p1 = plain.predict(q_archs), with_f.predict(q_archs)
        assert np.isfinite(p1).all() and not np.allclose(p0, p1), name
        assert np.isfinite(kendall_tau(y[qry], p1))
    # zero-shot source-transfer ignores features: the same ranking either way
    st = [make_predictor("source-transfer", space=nbg_table.space, sources=sources, features=f).fit(s_archs, y[sup])
          .predict(q_archs) for f in (None, feats)]
    assert np.array_equal(st[0], st[1])
