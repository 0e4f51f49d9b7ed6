"""Experiments as a workload: the predictor-quality and search-efficiency grids, fanned out as Ray
tasks (or run in process), committed cell by cell to a resumable result store, merged into reports.

    from surrogate_nas.experiment import load_config, run_experiment, write_report
    run_experiment(load_config("experiments/configs/predictor-quality-quick.yaml"), "runs/pq", workers=2)

Sits between ``training`` and ``cli`` in the import layers.
"""

from .config import (
    ExperimentError,
    PQBenchmark,
    PredictorQualityConfig,
    SearchEfficiencyConfig,
    SEBenchmark,
    config_from_dict,
    load_config,
)
from .runner import plan, run_experiment, write_report

__all__ = [
    "ExperimentError",
    "PQBenchmark",
    "PredictorQualityConfig",
    "SEBenchmark",
    "SearchEfficiencyConfig",
    "config_from_dict",
    "load_config",
    "plan",
    "run_experiment",
    "write_report",
]
