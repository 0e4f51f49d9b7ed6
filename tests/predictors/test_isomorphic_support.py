"""A string is a network: support sets with isomorphic strings are accepted by every predictor; exact duplicates
are refused (one line naming both data rows); a function-level metric gets a note."""

import warnings

import numpy as np
import pytest

from surrogate_nas.benchmarks.kinds import RepeatedMeasurementsWarning
from surrogate_nas.errors import DataError
from surrogate_nas.predictors import make_predictor
from surrogate_nas.predictors.inputs import SourceValues
from surrogate_nas.predictors.support import validate_support

from .test_registry import BASELINES, SMALL

POOL_FIRST = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
CONV_FIRST = "|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|avg_pool_3x3~0|skip_connect~1|skip_connect~2|"


@pytest.fixture(scope="module")
def support(nb201_table):
    """18 real ImageNet16-120 records, two of them isomorphic strings (one canonical key), with their own
    recorded accuracies (the NB-201 records of isomorphic cells differ slightly)."""
    sp = nb201_table.space
    archs = sp.enumerate()
    keys, pick = {sp.canonical(sp.parse(POOL_FIRST))}, []
    for i in np.random.default_rng(3).permutation(len(archs)):
        if sp.canonical(archs[i]) not in keys and len(pick) < 16:
            keys.add(sp.canonical(archs[i]))
            pick.append(archs[i])
    sup = pick + [sp.parse(POOL_FIRST), sp.parse(CONV_FIRST)]
    return sp, sup, nb201_table.vector("ImageNet16-120", "test_acc", sup)


def test_isomorphic_strings_are_accepted_with_a_note_for_a_function_level_metric(support):
    sp, sup, y = support
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_support(sp, sup, y)  # metric unknown: no note
        validate_support(sp, sup, y, metric="latency_ms")  # different networks: nothing to say
    with pytest.warns(RepeatedMeasurementsWarning) as rec:
        archs, _ = validate_support(sp, sup, y, metric="test_acc")
    msg = str(rec[0].message)
    assert len(rec) == 1 and "\n" not in msg and len(archs) == len(sup)
    assert f"data rows {len(sup) - 1} and {len(sup)}" in msg and "repeated measurements of one function" in msg


def test_the_same_string_twice_is_refused_naming_both_rows(support):
    sp, sup, y = support
    archs = list(sup) + [sup[2]]
    with pytest.raises(DataError, match=rf"appears twice \(data rows 3 and {len(archs)}\); average repeated") as ei:
        validate_support(sp, archs, np.append(y, 1.0))
    assert "\n" not in str(ei.value)


@pytest.mark.parametrize("name", BASELINES + ["lgbm", "lgbm-source"])
def test_every_predictor_fits_a_support_with_isomorphic_strings(name, support, nb201_table):
    sp, sup, y = support
    src = SourceValues(nb201_table, ("cifar10",), "test_acc")
    p = make_predictor(name, space=sp, seed=0, sources=src, **SMALL.get(name, {})).fit(sup, y)
    pred = p.predict([POOL_FIRST, CONV_FIRST] + sup[:3])
    assert pred.shape == (5,) and np.isfinite(pred).all()
