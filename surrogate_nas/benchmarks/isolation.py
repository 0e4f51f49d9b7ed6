"""Target isolation: the one guard that keeps a task's own values out of its predictor's inputs.

A prediction (or a search) for target task T must never see T's values as an input: not as a
source feature, not as a meta-training task, not as a meta-validation set. Every path that builds
inputs for a target calls :func:`check_isolation` (pretrain, adapt/predict, make_searcher, the
experiment scripts); it raises :class:`TargetLeakError` and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import SurrogateNASError
from .ranks import spearman

#: A support set whose values rank its archs like a source task's records to within this Spearman,
#: over at least SAME_RANK_MIN_ARCHS archs, is taken to be that task's own records. Few archs cannot
#: tell a copy from a good correlate: on NB-201, two *different* real tasks rank 5 random archs
#: identically about half the time, 10 archs 4-8%, 20 archs up to 0.1%
#: (``python experiments/isolation_false_positives.py``).
SAME_TASK_SPEARMAN = 0.999
SAME_RANK_MIN_ARCHS = 30
#: Values that are an exact affine copy of a source task's records (the records themselves, or
#: rescaled, e.g. accuracy in [0, 1] or error = 100 - accuracy) are refused from this many archs on.
SAME_VALUE_MIN_ARCHS = 4


def _copy_tolerance(values: np.ndarray) -> float:
    """Largest affine-fit residual of a copy: float noise, or one unit of the values' own rounding
    (a copy typed in with 2 decimals is still a copy)."""
    for decimals in range(7):
        if np.allclose(values, np.round(values, decimals), rtol=0, atol=1e-9 * max(1.0, np.abs(values).max())):
            # rounding noise only counts while it is small against the spread (else any two tasks fit)
            return max(1e-6 * np.ptp(values), min(10.0**-decimals, 0.01 * np.ptp(values)))
    return 1e-6 * np.ptp(values)


class TargetLeakError(SurrogateNASError):
    """A target task's own values would be an input to its predictor."""


def check_isolation(
    target: str | None,
    sources: Iterable[str] = (),
    *,
    where: str,
    table=None,
    metric: str | None = None,
    support: tuple[Sequence, Sequence[float]] | None = None,
) -> None:
    """Refuse any input path that would let ``target`` see its own values.

    ``sources``: every task whose values the predictor reads (source features, meta-training and
    meta-validation tasks). With a named ``target``, it must not be among them. Without one (the
    user did not say which task the support comes from) and with ``table``, ``metric`` and
    ``support`` = (archs, values), the support values are compared with each source task's records
    on the same archs: an exact affine copy (>= :data:`SAME_VALUE_MIN_ARCHS` archs) or a Spearman
    >= :data:`SAME_TASK_SPEARMAN` (>= :data:`SAME_RANK_MIN_ARCHS` archs) means the support *is* a source
    task, and is refused. Both directions count (an error rate copied from an accuracy is still a copy).
    """
    sources = [str(s) for s in sources]
    if target is not None:
        if target in sources:
            raise TargetLeakError(
                f"{where}: target task {target!r} is also a source/training task "
                f"({', '.join(sources)}); its own values would be an input to its prediction. "
                f"Leave {target!r} out of the source tasks (pretrain without it)."
            )
        return
    if support is None or table is None or metric is None or not sources:
        return
    archs, given = support
    values = np.asarray(given, dtype=float)
    for task in sources:
        if task not in table.tasks or metric not in table.metrics(task):
            continue
        src = table.vector(task, metric, list(archs), missing="nan")
        ok = np.isfinite(src) & np.isfinite(values)
        n = int(ok.sum())
        if n < SAME_VALUE_MIN_ARCHS or np.ptp(src[ok]) == 0 or np.ptp(values[ok]) == 0:
            continue
        why = None
        slope, intercept = np.polyfit(src[ok], values[ok], 1)
        if np.max(np.abs(slope * src[ok] + intercept - values[ok])) <= _copy_tolerance(values[ok]):
            why = f"are an exact copy of the records of source task {task!r} (affine fit over {n} architectures)"
        elif n >= SAME_RANK_MIN_ARCHS:
            rho = spearman(values[ok], src[ok])
            if np.isfinite(rho) and abs(rho) >= SAME_TASK_SPEARMAN:
                why = f"rank its {n} architectures like the records of source task {task!r} (Spearman {rho:.4f})"
        if why:
            raise TargetLeakError(
                f"{where}: the support values {why}; they look like {task!r}'s own values, which the model "
                f"already reads as a source feature. Name the support's task with --task, or use a checkpoint "
                f"pretrained without {task!r}."
            )
