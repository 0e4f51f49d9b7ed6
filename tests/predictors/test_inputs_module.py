"""The predictors' inputs live in surrogate_nas.predictors.inputs; the old name predictors.features is gone
(issue #21: one name, no re-export), so it cannot be confused with the free features of surrogate_nas.features."""

import importlib

import pytest


def test_inputs_module_and_no_old_name():
    inputs = importlib.import_module("surrogate_nas.predictors.inputs")
    assert {"SourceValues", "FreeFeatureValues", "input_columns", "support_correlations"} <= set(vars(inputs))
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("surrogate_nas.predictors.features")
