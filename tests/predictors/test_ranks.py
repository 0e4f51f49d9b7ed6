"""One rank helper (issue #21): surrogate_nas.benchmarks.ranks is what every Spearman and rank normalisation uses,
and it gives scipy's values to the last bit."""

import numpy as np
import pytest
from scipy import stats

from surrogate_nas.benchmarks import ranks
from surrogate_nas.predictors.inputs import support_correlations
from surrogate_nas.predictors.metrics import spearman_rho


def test_spearman_is_scipys_to_the_last_bit():
    rng = np.random.default_rng(0)
    for i in range(500):
        n = int(rng.integers(3, 200))
        a = rng.normal(size=n)
        b = a + rng.normal(scale=float(rng.uniform(0.1, 3)), size=n)
        if i % 3 == 0:  # ties
            a, b = np.round(a), np.round(b * 2)
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            continue
        assert ranks.spearman(a, b) == stats.spearmanr(a, b).statistic
        assert spearman_rho(a, b) == stats.spearmanr(a, b).statistic
    assert np.array_equal(ranks.average_ranks([3.0, 1.0, 3.0, np.nan]), [2.5, 1.0, 2.5, np.nan], equal_nan=True)
    assert np.array_equal(ranks.average_ranks(b), stats.rankdata(b))


def test_spearman_undefined_cases_are_nan():
    assert np.isnan(ranks.spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert np.isnan(ranks.spearman([1.0, np.nan, 2.0], [1.0, 2.0, 3.0]))
    assert np.isnan(ranks.spearman([1.0], [2.0]))
    with pytest.raises(ValueError, match="one length"):
        ranks.spearman([1.0, 2.0], [1.0, 2.0, 3.0])


def test_support_correlations_use_the_helper(monkeypatch):
    calls = []
    monkeypatch.setattr("surrogate_nas.predictors.inputs.spearman", lambda a, b: calls.append(1) or 0.5)
    src = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 5.0], [4.0, 3.0]], dtype=np.float32)
    assert support_correlations(src, np.array([1.0, 2.0, 3.0, 4.0])).tolist() == [0.5, 0.5]
    assert len(calls) == 2


def test_average_ranks_are_scipys_to_the_last_bit_with_ties_nan_and_inf():
    """The numpy ranks (no pandas Series per call: they run for every column of every fold of a calibration)
    equal scipy's ``rankdata`` bit for bit, NaN left unranked as pandas' ``rank`` leaves it."""
    rng = np.random.default_rng(1)
    for _ in range(500):
        n = int(rng.integers(1, 80))
        v = rng.integers(0, int(rng.integers(1, 20)), n).astype(float)  # many ties
        v[rng.random(n) < 0.1] = np.inf
        v[rng.random(n) < 0.1] = np.nan
        known = ~np.isnan(v)
        expected = np.full(n, np.nan)
        expected[known] = stats.rankdata(v[known])
        assert ranks.average_ranks(v).tobytes() == expected.tobytes()
    assert ranks.average_ranks([]).shape == (0,)
    assert np.isnan(ranks.average_ranks([np.nan, np.nan])).all()
    with pytest.raises(ValueError, match="1-D"):
        ranks.average_ranks(np.zeros((2, 2)))
