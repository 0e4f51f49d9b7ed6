"""What kind of number a metric is: a property of the *network* (hardware) or of the *function* it computes.

Design rule 1: a string is a network. Records are keyed by the string that was measured. Hardware metrics
(latency, parameters, FLOPs / MACs, energy, memory, ...) belong to the string: two isomorphic cells (one
canonical key) compute the same function but are different networks, so their hardware values are never
merged, averaged or compared. Function-level metrics (accuracy, loss, perf, anything else) are what the cell
computes: isomorphic cells' values are repeated measurements of one function, and the canonical key may
stand in for a string that has no record of its own.

:func:`is_hardware_metric` is the one place that decides; everything keyed on the canonical key asks it.
"""

from __future__ import annotations

import re

__all__ = ["HARDWARE_TOKENS", "RepeatedMeasurementsWarning", "is_hardware_metric", "metric_kind"]

#: Name tokens that make a metric a hardware metric (matched case-insensitively against the words of the
#: name: ``latency_ms``, ``gpu-latency``, ``latencyMs``, ``params``, ``num_parameters``, ``FLOPs``, ``MACs``,
#: ``energy_mj``, ``peak_memory_mb``, ``latency@12``, ...).
HARDWARE_TOKENS = frozenset(
    {
        "latency",
        "latencies",
        "runtime",
        "throughput",
        "fps",
        "params",
        "param",
        "parameters",
        "parameter",
        "nparams",
        "para",
        "flops",
        "flop",
        "gflops",
        "mflops",
        "kflops",
        "macs",
        "mac",
        "gmacs",
        "mmacs",
        "madds",
        "multadds",
        "energy",
        "power",
        "memory",
        "mem",
    }
)

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")


def _tokens(name: str) -> set[str]:
    text = str(name)
    words = set(re.split(r"[^a-z]+", text.lower()))  # latency_ms, peak-memory, FLOPs, latency@12
    words |= {w.lower() for w in _CAMEL.findall(text)}  # latencyMs, numParams, peakMemoryMB
    words.discard("")
    return words


def is_hardware_metric(metric: str) -> bool:
    """True when ``metric`` names a hardware metric (latency, params/parameters, FLOPs/MACs, energy, memory ...).

    Decided by the words of the name (case-insensitive; ``_ - @ .`` digits and camelCase separate words), so
    ``latency_ms``, ``latency``, ``params``, ``flops``, ``energy_mj``, ``peak_memory_mb`` are hardware metrics
    and ``test_acc``, ``valid_perf``, ``loss`` (anything else) are function-level ones.
    """
    if not isinstance(metric, str):
        return False
    return bool(_tokens(metric) & HARDWARE_TOKENS)


def metric_kind(metric: str) -> str:
    """``"hardware"`` (belongs to the string: never merged across isomorphic cells) or ``"function"``."""
    return "hardware" if is_hardware_metric(metric) else "function"


class RepeatedMeasurementsWarning(UserWarning):
    """Isomorphic cells (different strings, one canonical key) hold different values of a function-level
    metric: accepted, and treated as repeated measurements of one function. The message is one line; the
    command line prints it as a ``note:``."""
