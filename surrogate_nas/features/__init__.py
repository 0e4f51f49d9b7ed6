"""Free architecture features: numbers known without training on the task (issue #11).

- NB-201: parameter count, FLOPs and five zero-cost proxies at initialisation (:data:`NB201_FEATURES`).
  Params and FLOPs per string (a string is a network; isomorphic cells can differ), shipped as
  ``data/nb201/params_flops.csv.xz`` (:func:`~surrogate_nas.features.compute.compute_params_flops`); the
  proxies once per canonical class by :func:`compute`, shipped as ``data/nb201/free_features.csv.xz``.
- NAS-Bench-Graph: the benchmark's own ``params`` and ``latency`` of the task.

:func:`free_features` gives raw values, :func:`feature_ranks` ranks in [-1, 1] over all records the feature
has; both refuse the metric a model predicts as an input (``TargetLeakError``).
"""

from .compute import compute, compute_params_flops
from .proxies import PROXIES, input_batch, synflow, zero_cost_proxies
from .table import (
    NB201_FEATURES,
    NBG_FEATURES,
    available_features,
    feature_ranks,
    free_features,
    rank_normalise,
    read_features,
    read_params_flops,
)

__all__ = [
    "NB201_FEATURES",
    "NBG_FEATURES",
    "PROXIES",
    "available_features",
    "free_features",
    "feature_ranks",
    "compute",
    "compute_params_flops",
    "read_features",
    "read_params_flops",
    "rank_normalise",
    "zero_cost_proxies",
    "synflow",
    "input_batch",
]
