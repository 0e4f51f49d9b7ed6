"""Target isolation: the one guard that keeps a task's own values out of its predictor's inputs.

A prediction (or a search) for target task T must never see T's values as an input: not as a
source feature, not as a meta-training task, not as a meta-validation set. Every path that builds
inputs for a target calls :func:`check_isolation` (pretrain, adapt/predict, make_searcher, the
experiment scripts); it raises :class:`TargetLeakError` and nothing else.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from scipy import stats

from ..errors import SurrogateNASError

#: A support set whose values rank the archs like a source task does to within this Spearman is
#: taken to be that task's own records (a noise-free copy); real tasks of NB-201 correlate <= 0.98.
SAME_TASK_SPEARMAN = 0.999
#: ... over at least this many archs (fewer cannot tell a copy from a good correlate).
SAME_TASK_MIN_ARCHS = 5


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
    higher_is_better: bool = True,
) -> None:
    """Refuse any input path that would let ``target`` see its own values.

    ``sources``: every task whose values the predictor reads (source features, meta-training and
    meta-validation tasks). With a named ``target``, it must not be among them. Without one (the
    user did not say which task the support comes from) and with ``table``, ``metric`` and
    ``support`` = (archs, values), the support values are compared with each source task's records
    on the same archs: a Spearman >= :data:`SAME_TASK_SPEARMAN` over >= :data:`SAME_TASK_MIN_ARCHS`
    archs means the support *is* a source task, and is refused.
    """
    sources = [str(s) for s in sources]
    if target is not None:
        if target in sources:
            raise TargetLeakError(
                f"{where}: target task {target!r} is also a source/training task "
                f"({', '.join(sources)}); its own values would be an input to its prediction. "
                f"Leave {target!r} out of the source tasks (pretrain without it).")
        return
    if support is None or table is None or metric is None or not sources:
        return
    archs, values = support
    values = np.asarray(values, dtype=float)
    if len(values) < SAME_TASK_MIN_ARCHS or np.ptp(values[np.isfinite(values)] if len(values) else values) == 0:
        return
    for task in sources:
        if task not in table.tasks or metric not in table.metrics(task):
            continue
        src = table.vector(task, metric, list(archs), missing="nan")
        ok = np.isfinite(src) & np.isfinite(values)
        if ok.sum() < SAME_TASK_MIN_ARCHS or np.ptp(src[ok]) == 0:
            continue
        rho = stats.spearmanr(values[ok], src[ok] if higher_is_better else -src[ok]).statistic
        if np.isfinite(rho) and abs(rho) >= SAME_TASK_SPEARMAN:
            raise TargetLeakError(
                f"{where}: the support values rank its {int(ok.sum())} architectures like the records of source "
                f"task {task!r} (Spearman {rho:.4f}); they look like {task!r}'s own values, which the model "
                f"already reads as a source feature. Name the support's task with --task, or use a checkpoint "
                f"pretrained without {task!r}.")
