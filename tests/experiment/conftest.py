"""Tiny experiment configs (few meta iterations, one target, K 5/10, 2 seeds, a few methods); the local Ray
instance is tests/conftest.py's ``local_ray``."""

from __future__ import annotations

from surrogate_nas.experiment import PQBenchmark, PredictorQualityConfig, SEBenchmark, SearchEfficiencyConfig


def tiny_pq(**kw) -> PredictorQualityConfig:
    d = dict(benchmarks=[PQBenchmark("nb201", "test_acc", ["ImageNet16-120"])], ks=[5, 10], seeds=2,
             methods=["meta-gnn", "ridge-source", "rf"], meta={"iterations": 6, "val_every": 3, "seed": 0},
             mode="quick")
    d.update(kw)
    return PredictorQualityConfig(**d).validate()


def tiny_se(**kw) -> SearchEfficiencyConfig:
    d = dict(benchmarks=[SEBenchmark("nas-bench-graph", ["cora"], "valid_perf", "test_perf", seeds=2, budget=12,
                                     guided_budget=8, checkpoints=2, meta={"iterations": 4, "val_every": 2, "seed": 0},
                                     model={"hidden": 16, "layers": 2})],
             methods=["random", "guided-meta"], mode="quick")
    d.update(kw)
    return SearchEfficiencyConfig(**d).validate()
