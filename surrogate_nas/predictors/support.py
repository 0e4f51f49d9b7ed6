"""Support sets (the K measured architectures a predictor is fitted on): validation and scaling."""

from __future__ import annotations

import warnings
from typing import Literal, NamedTuple, get_args

import numpy as np

from ..benchmarks.kinds import RepeatedMeasurementsWarning, is_hardware_metric
from ..errors import DataError
from ..spaces import Architecture


def normalise(y: np.ndarray, where: str) -> tuple[float, float]:
    """Mean and std of support targets; constant targets cannot be normalised."""
    mean, std = float(np.mean(y)), float(np.std(y))
    if not np.isfinite(mean) or not np.isfinite(std):
        raise DataError(f"{where}: targets contain NaN/inf")
    if std < 1e-12 * max(1.0, abs(mean)):
        raise DataError(f"{where}: all {len(y)} support targets are equal ({mean!r}); a ranking cannot be learned")
    return mean, std


#: Target scalings of a support set (see :func:`scale_targets`).
ScaleName = Literal["zscore", "robust"]
SCALES = get_args(ScaleName)
#: Bound of robust z-scores: a diverged architecture (NB-201 has cells at 1% accuracy among ~70%) is one
#: very bad value, not a value that compresses every other support value into a sliver of the scale.
ROBUST_CLIP = 3.0


class TargetScale(NamedTuple):
    """The one target scaler: ``transform(y) = clip(sign x (y - centre) / spread, -clip, clip)``, ``inverse(z) =
    sign x z x spread + centre``. ``sign`` is -1 for a lower-is-better metric, so the network's scale is always
    higher-is-better, as the source tasks' ranks are (:class:`~surrogate_nas.predictors.inputs.SourceValues`): a
    latency is read as speed. Made from a support set by :func:`scale_targets`."""

    centre: float
    spread: float
    clip: float
    sign: float = 1.0

    def transform(self, y) -> np.ndarray:
        return np.clip(self.sign * (np.asarray(y) - self.centre) / self.spread, -self.clip, self.clip)

    def inverse(self, z):
        return self.sign * z * self.spread + self.centre

    def orient(self, y) -> np.ndarray:
        """``y`` in the order the network's scale reads it (negated for a lower-is-better metric), unscaled."""
        return self.sign * np.asarray(y, dtype=float)


def scale_targets(y: np.ndarray, where: str, scale: str = "zscore", higher_is_better: bool = True) -> TargetScale:
    """(centre, spread, clip, sign) putting support targets on the network's scale: ``z = clip(sign x (y - centre) /
    spread)``, ``sign`` -1 where ``higher_is_better`` is False.

    ``zscore``: mean and std, no clip (how MAML checkpoints were meta-trained). ``robust``: median and
    IQR / 1.349 (the std of a normal with that IQR; the std when the IQR is 0), z clipped to
    +-:data:`ROBUST_CLIP`, so outlying support values (diverged trainings) do not set the scale.
    """
    mean, std = normalise(y, where)
    sign = 1.0 if higher_is_better else -1.0
    if scale == "zscore":
        return TargetScale(mean, std, float("inf"), sign)
    if scale != "robust":
        raise DataError(f"{where}: target scale must be one of {', '.join(SCALES)}, got {scale!r}")
    q1, med, q3 = np.percentile(np.asarray(y, dtype=float), [25, 50, 75])
    spread = (q3 - q1) / 1.349
    return TargetScale(float(med), float(spread if spread > 1e-12 * max(1.0, abs(med)) else std), ROBUST_CLIP, sign)


def validate_support(
    space, archs, y, where: str = "support set", metric: str | None = None
) -> tuple[list[Architecture], np.ndarray]:
    """Check a support set: >= 2 architectures of ``space``, distinct strings, finite, not all equal.

    A string is a network: the same string twice is refused (one line naming both data rows; average
    repeated measurements first). Two isomorphic cells (different strings, one canonical key) are accepted --
    for a hardware metric they are different networks; for a function-level metric they are repeated
    measurements of one function. ``metric``: the name of the values, when the caller knows it; a
    function-level one (:func:`~surrogate_nas.benchmarks.kinds.is_hardware_metric` is False) with isomorphic
    cells in the support gives one :class:`~surrogate_nas.benchmarks.kinds.RepeatedMeasurementsWarning`.
    """
    archs = list(archs)
    try:
        y = np.asarray(y, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        bad = next((v for v in y if not _is_number(v)), None)
        raise DataError(f"{where}: value {bad!r} is not a number") from None
    if len(archs) != len(y):
        raise DataError(f"{where}: {len(archs)} architectures but {len(y)} values")
    if len(archs) < 2:
        raise DataError(f"{where} has {len(archs)} architecture(s); adaptation needs at least 2 measured ones")
    parsed = []
    for i, a in enumerate(archs):
        try:
            parsed.append(space.coerce(a))
        except ValueError as e:
            raise DataError(f"{where}, data row {i + 1}: {e}") from None
    seen: dict = {}
    for i, a in enumerate(parsed):
        if a in seen:
            j = seen[a]
            raise DataError(
                f"{where}: architecture {space.format(a)!r} appears twice (data rows {j + 1} and {i + 1}); "
                "average repeated measurements first"
            )
        seen[a] = i
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise DataError(f"{where}: value {y[bad[0]]!r} for {space.format(parsed[bad[0]])!r} is not finite")
    normalise(y, where)
    if metric is not None:
        note = isomorphic_note(space, parsed, where, metric)
        if note:
            warnings.warn(RepeatedMeasurementsWarning(note), stacklevel=2)
    return parsed, y


def isomorphic_note(space, archs, where: str, metric: str | None) -> str | None:
    """A one-line note when ``archs`` (distinct strings) hold isomorphic cells and ``metric`` is function-level:
    their values are treated as repeated measurements of one function. None otherwise (a hardware metric's
    isomorphic cells are different networks: nothing to say)."""
    if metric is None or is_hardware_metric(metric):
        return None
    first: dict[str, int] = {}
    pairs = []
    for i, a in enumerate(archs):
        j = first.setdefault(space.canonical(a), i)
        if j != i:
            pairs.append((j, i))
    if not pairs:
        return None
    j, i = pairs[0]
    return (
        f"{where}: {len(pairs)} architecture(s) isomorphic to an earlier one (e.g. data rows {j + 1} and "
        f"{i + 1}: {space.format(archs[j])!r} and {space.format(archs[i])!r}); their {metric!r} values are "
        "treated as repeated measurements of one function"
    )


def _is_number(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
