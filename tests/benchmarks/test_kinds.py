"""Which metrics are hardware metrics (belong to the string) and which are function-level (belong to the class)."""

import pytest

from surrogate_nas.benchmarks import is_hardware_metric, metric_kind


@pytest.mark.parametrize("name", ["latency_ms", "latency", "params", "flops", "energy_mj", "peak_memory_mb",
                                  "FLOPs", "MACs", "latencyMs", "numParams", "num_parameters", "gpu-latency",
                                  "latency@12", "Params_M", "mem_mb", "power_w", "throughput"])
def test_hardware_metrics(name):
    assert is_hardware_metric(name) and metric_kind(name) == "hardware"


@pytest.mark.parametrize("name", ["test_acc", "valid_acc", "accuracy", "valid_perf", "test_perf", "perf", "loss",
                                  "m", "acc", "valid_acc@12", "top1", "compatible", "parametric_loss"])
def test_function_level_metrics(name):
    assert not is_hardware_metric(name) and metric_kind(name) == "function"


def test_not_a_name_is_not_hardware():
    assert not is_hardware_metric(None) and not is_hardware_metric(3)
