"""Every predictor is built from the registry by name, with the same keyword arguments and predict API."""

import numpy as np
import pytest
import torch

from surrogate_nas.errors import SurrogateNASError
from surrogate_nas.predictors import PREDICTORS, make_predictor
from surrogate_nas.predictors.baselines import has_uncertainty
from surrogate_nas.predictors.inputs import SourceValues

BASELINES = ["source-transfer", "ridge-source", "rf-source", "rf", "gbm", "scratch-gnn"]
SMALL = {"rf-source": {"n_estimators": 10}, "rf": {"n_estimators": 10}, "gbm": {"n_estimators": 10},
         "scratch-gnn": {"steps": 5, "hidden": 8, "layers": 1}}


@pytest.fixture(scope="module")
def data(nb201_table):
    sp = nb201_table.space
    archs = sp.enumerate()
    sup, keys = [], set()
    for i in np.random.default_rng(0).permutation(len(archs)):
        if sp.canonical(archs[i]) not in keys:
            keys.add(sp.canonical(archs[i]))
            sup.append(archs[i])
        if len(sup) == 15:
            break
    return sp, sup, nb201_table.vector("ImageNet16-120", "test_acc", sup), SourceValues(nb201_table, ("cifar10",), "test_acc")


def test_every_baseline_is_registered():
    assert set(BASELINES) <= set(PREDICTORS.names())


@pytest.mark.parametrize("name", BASELINES)
def test_built_by_name_with_the_common_arguments(name, data):
    sp, sup, y, src = data
    p = make_predictor(name, space=sp, seed=0, sources=src, **SMALL.get(name, {}))
    assert p.fit(sup, y) is p
    mean = p.predict(sup[:5])
    m2, std = p.predict(sup[:5], return_std=True)
    assert mean.shape == std.shape == (5,) and np.array_equal(mean, m2)
    assert (np.all(std >= 0) and std.any()) if has_uncertainty(p) else np.all(std == 0)
    with pytest.raises(SurrogateNASError, match="unknown option.*'bogus'"):
        make_predictor(name, space=sp, seed=0, sources=src, bogus=1)


def test_unknown_name_and_missing_arguments_are_refused(data):
    sp, _, _, src = data
    with pytest.raises(SurrogateNASError, match="unknown predictor 'nope'"):
        make_predictor("nope", space=sp)
    with pytest.raises(SurrogateNASError, match="needs a search space"):
        make_predictor("rf", seed=0)
    for name in ("source-transfer", "ridge-source", "rf-source"):
        with pytest.raises(SurrogateNASError, match="reads source-task values"):
            make_predictor(name, space=sp, seed=0)


def test_scratch_gnn_depends_on_its_seed_not_on_the_global_rng(data):
    sp, sup, y, _ = data

    def run(global_seed, seed=0):
        torch.manual_seed(global_seed)
        before = torch.random.get_rng_state()
        p = make_predictor("scratch-gnn", space=sp, seed=seed, **SMALL["scratch-gnn"]).fit(sup, y)
        assert torch.equal(torch.random.get_rng_state(), before)  # the caller's RNG state is untouched
        return p.predict(sup)

    assert np.array_equal(run(1), run(2))
    assert not np.array_equal(run(1), run(1, seed=1))
