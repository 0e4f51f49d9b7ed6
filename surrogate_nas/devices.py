"""Torch devices, resolved and checked once before any work (a base utility: it imports no package layer).

``"auto"`` is CUDA when torch sees a GPU, else the CPU; any other name must parse (``cpu``, ``cuda``, ``cuda:1``,
``mps``) and be present on this machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import SurrogateNASError

if TYPE_CHECKING:
    import torch


def resolve_device(device: str | torch.device, error: type[SurrogateNASError] = SurrogateNASError) -> torch.device:
    """The ``torch.device`` for ``device``; a bad or absent one raises ``error`` in one line naming it."""
    import torch

    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        dev = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError, ValueError) as e:
            raise error(f"unknown device {device!r}: {e}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise error(f"device {str(device)!r} requested but CUDA is not available; use device='cpu' or 'auto'")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise error(f"device {str(device)!r} requested but MPS is not available; use device='cpu' or 'auto'")
    return dev


__all__ = ["resolve_device"]
