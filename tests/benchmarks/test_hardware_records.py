"""A string is a network: a per-device latency table of all 15,625 NB-201 strings imports, keeps one value per
string (isomorphic strings differ), and a predictor fitted on it predicts one value per string."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from surrogate_nas.benchmarks import import_table, load_benchmark
from surrogate_nas.features import read_params_flops
from surrogate_nas.predictors import make_predictor
from surrogate_nas.predictors.inputs import FreeFeatureValues

POOL_FIRST = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
CONV_FIRST = "|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|avg_pool_3x3~0|skip_connect~1|skip_connect~2|"


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """``arch,pixel7,jetson``: the shipped per-string params / FLOPs times a device factor, plus a per-string
    perturbation, so that every string (isomorphic ones included) has its own latency."""
    frame, _ = read_params_flops()
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"arch": frame.index,
                       "pixel7": frame["params"].to_numpy() * 3e-5 + rng.uniform(0, 0.05, len(frame)),
                       "jetson": frame["flops"].to_numpy() * 2e-7 + rng.uniform(0, 0.05, len(frame))})
    path = tmp_path_factory.mktemp("lat") / "devices.csv"
    df.to_csv(path, index=False)
    return path, df.set_index("arch"), frame


def test_a_wide_latency_table_of_every_string_imports_with_one_value_per_string(wide, data_dir):
    path, df, frame = wide
    assert frame["key"].nunique() == 6466 and len(df) == 15625  # 15,625 strings in 6,466 classes
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a hardware metric of isomorphic strings: nothing to note
        name, _, table = import_table(path, "nb201", metric="latency_ms", lower_is_better=True)
    table = load_benchmark(name)
    assert table.tasks == ["jetson", "pixel7"] and len(table) == 2 * 15625
    archs = table.space.enumerate()
    for task in ("pixel7", "jetson"):
        v = table.vector(task, "latency_ms", archs)
        assert len(np.unique(v)) == 15625  # one value per string
        assert np.array_equal(v, df.loc[[table.space.format(a) for a in archs], task].to_numpy())
    a, b = table.vector("pixel7", "latency_ms", [POOL_FIRST, CONV_FIRST])
    assert a == df.loc[POOL_FIRST, "pixel7"] and b == df.loc[CONV_FIRST, "pixel7"] and a - b > 0.5


def test_a_predictor_fitted_on_it_predicts_one_value_per_string(wide, data_dir):
    path, df, _ = wide
    _, _, table = import_table(path, "nb201", metric="latency_ms", name="devices")
    sp = table.space
    archs = sp.enumerate()
    rng = np.random.default_rng(1)
    sup = [archs[i] for i in rng.choice(len(archs), 40, replace=False)] + [sp.parse(POOL_FIRST), sp.parse(CONV_FIRST)]
    y = table.vector("pixel7", "latency_ms", sup)
    feats = FreeFeatureValues(table, None, ("params", "flops"), metric="latency_ms")
    p = make_predictor("rf", space=sp, seed=0, features=feats, n_estimators=20).fit(sup, y)  # an isomorphic pair
    pred = p.predict(archs)
    assert pred.shape == (15625,) and np.isfinite(pred).all()
    truth = table.vector("pixel7", "latency_ms", archs)
    assert spearmanr(pred, truth).statistic > 0.8
    a, b = p.predict([POOL_FIRST, CONV_FIRST])
    assert a > b  # the isomorphic pair: the one with the second 1x1 conv is predicted slower
