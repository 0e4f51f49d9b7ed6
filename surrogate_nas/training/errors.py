"""The errors of real training."""

from __future__ import annotations

from ..errors import SurrogateNASError


class TrainingError(SurrogateNASError):
    """Training could not run (bad configuration, device problem)."""


class TrainingOOMError(TrainingError):
    """The device ran out of memory; the message suggests a smaller batch."""


__all__ = ["TrainingError", "TrainingOOMError"]
