"""Zero-cost proxies of an ``nn.Module`` at initialisation, and the fixed input batch they read.

Every proxy is a number computed from a freshly initialised network without any training:

- ``synflow`` (Tanaka et al. 2020; Abdelfattah et al. 2021): data-free. A float64 copy of the network with
  every parameter replaced by its absolute value, BatchNorm in eval mode (fresh running stats, so BN is the
  identity up to ``1/sqrt(1 + eps)`` -- the published "no BN" setting), an all-ones input of one image;
  ``R = sum(output)``; score = ``sum |theta * dR/dtheta|`` over the conv and linear weights.
- ``snip`` (Lee et al. 2019): ``sum |theta * dL/dtheta|`` over the conv and linear weights, ``L`` the
  cross-entropy of the batch (network in train mode: BN uses batch statistics).
- ``grad_norm``: the **sum over conv/linear layers of the L2 norm** of each layer's weight gradient of the
  same loss (the zero-cost-NAS definition, not the norm of the concatenated gradient).
- ``jacob_cov`` (Mellor et al. 2020): the Jacobian ``J`` of ``sum(logits)`` with respect to the input
  images (one row per image), its correlation matrix's eigenvalues ``l``;
  score = ``-sum(log(l + k) + 1/(l + k))`` with ``k = 1e-5`` (a constant Jacobian row: the rank-one score).
- ``naswot`` (Mellor et al. 2021): the binary code ``x > 0`` of the input of every ReLU module per image;
  kernel ``K = C C^T + (1 - C)(1 - C)^T`` summed over the ReLUs (a Hamming-agreement count);
  score = ``log|det K|`` (``-inf`` when K is singular, e.g. every image gives the same codes).

``snip``, ``grad_norm``, ``jacob_cov`` and ``naswot`` share one forward pass (NASWOT's codes are recorded
by hooks on it); ``jacob_cov`` takes the input gradient of that graph, then ``snip``/``grad_norm`` the weight
gradient of the loss. ``synflow`` needs its own float64 pass on one image.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import DataError, SurrogateNASError

__all__ = ["PROXIES", "JACOB_K", "zero_cost_proxies", "synflow", "input_batch", "INPUT_SHAPE"]

PROXIES = ("synflow", "snip", "grad_norm", "jacob_cov", "naswot")
JACOB_K = 1e-5
#: The proxies' input resolution (C, H, W): NB-201's CIFAR resolution.
INPUT_SHAPE = (3, 32, 32)


def _weighted_layers(model: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def synflow(model: nn.Module, input_shape: tuple[int, ...] = INPUT_SHAPE) -> float:
    """Data-free synaptic flow of ``model`` (left untouched: a float64 copy is scored)."""
    net = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    out = net(torch.ones((1, *input_shape), dtype=torch.float64))
    torch.sum(out).backward()
    total = 0.0
    for m in _weighted_layers(net):
        if m.weight.grad is not None:
            total += float((m.weight.detach() * m.weight.grad).abs().sum())
    return total


def zero_cost_proxies(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """All of :data:`PROXIES` for ``model`` on the batch ``(x, y)``; the module's weights are not changed.

    ``x``: float images N x C x H x W (N >= 2), ``y``: int64 labels. The model is scored in train mode
    (synflow in eval mode, see the module docstring) and returned in the mode it came in.
    """
    if x.ndim != 4 or len(x) < 2 or len(y) != len(x):
        raise SurrogateNASError(
            f"zero_cost_proxies: need a batch N x C x H x W with N >= 2 and N labels, "
            f"got x {tuple(x.shape)}, y {tuple(y.shape)}"
        )
    was_training = model.training
    scores = {"synflow": synflow(model, tuple(x.shape[1:]))}
    codes: list[torch.Tensor] = []

    def relu_hook(mod, inp, out):
        codes.append((inp[0].detach().reshape(len(inp[0]), -1) > 0).to(torch.float64))

    handles = [m.register_forward_hook(relu_hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        model.train()
        model.zero_grad(set_to_none=True)
        xi = x.detach().clone().requires_grad_(True)
        logits = model(xi)
    finally:
        for h in handles:
            h.remove()
    try:
        # jacob_cov: input Jacobian of sum(logits), one row per image
        (jac,) = torch.autograd.grad(logits.sum(), xi, retain_graph=True)
        scores["jacob_cov"] = _jacob_cov(jac.reshape(len(jac), -1).to(torch.float64).numpy())
        # snip, grad_norm: the weight gradient of the loss
        loss = nn.functional.cross_entropy(logits, y)
        layers = _weighted_layers(model)
        grads = torch.autograd.grad(loss, [m.weight for m in layers], allow_unused=True)
        snip = gnorm = 0.0
        for m, g in zip(layers, grads):
            if g is None:
                continue
            snip += float((m.weight.detach() * g).abs().sum())
            gnorm += float(g.norm())
        scores["snip"], scores["grad_norm"] = snip, gnorm
        # naswot: log|det| of the summed Hamming-agreement kernel
        n = len(x)
        k = torch.zeros((n, n), dtype=torch.float64)
        for c in codes:
            k += c @ c.T + (1.0 - c) @ (1.0 - c).T
        scores["naswot"] = float(torch.linalg.slogdet(k)[1]) if codes else float("nan")
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return {name: scores[name] for name in PROXIES}


def _jacob_cov(jac: np.ndarray) -> float:
    """Mellor et al.'s score of the Jacobian rows' correlation matrix.

    A network whose Jacobian is constant over an image (e.g. zero: a cell that cuts the input off) cannot tell
    inputs apart; its rows count as perfectly correlated, which gives the rank-one score, the lowest there is
    (instead of the undefined correlation of a constant row).
    """
    n = len(jac)
    if np.any(np.ptp(jac, axis=1) == 0):
        v = np.zeros(n)
        v[-1] = n
    else:
        v = np.linalg.eigvalsh(np.corrcoef(jac))
    return float(-np.sum(np.log(v + JACOB_K) + 1.0 / (v + JACOB_K)))


# ---------------------------------------------------------------------- the fixed batch
def _check_images(path: Path, xs: np.ndarray, ys: np.ndarray) -> None:
    """Images are finite numbers and labels integers >= 0 (one line naming the file and the first bad entry)."""
    if not (np.issubdtype(xs.dtype, np.integer) or np.issubdtype(xs.dtype, np.floating)) or xs.dtype == bool:
        raise DataError(f"{str(path)!r}: x holds {xs.dtype} values; images must be numbers (e.g. uint8 pixels)")
    if np.issubdtype(xs.dtype, np.floating) and not np.isfinite(xs).all():
        bad = np.argwhere(~np.isfinite(xs))[0]
        raise DataError(f"{str(path)!r}: x has a non-finite pixel ({xs[tuple(bad)]}) in image {int(bad[0]) + 1}")
    whole = np.issubdtype(ys.dtype, np.floating) and bool(np.isfinite(ys).all() and (ys == np.round(ys)).all())
    if not (np.issubdtype(ys.dtype, np.integer) or whole) or ys.dtype == bool:
        raise DataError(f"{str(path)!r}: y holds {ys.dtype} values that are not whole numbers; labels are 0, 1, 2, ...")
    if len(ys) and ys.min() < 0:
        i = int(np.flatnonzero(ys < 0)[0])
        raise DataError(f"{str(path)!r}: label {int(ys[i])} of image {i + 1} is negative; labels are 0, 1, 2, ...")


def input_batch(
    dataset: str | os.PathLike = "digits",
    batch_size: int = 64,
    seed: int = 0,
    data_root: str | os.PathLike | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int, str]:
    """A fixed, seeded batch at :data:`INPUT_SHAPE`: (x float32 N x 3 x 32 x 32, y int64, num_classes, label).

    ``dataset``: ``"digits"`` (scikit-learn's built-in 8x8 digits, no download: bilinearly resized to 32x32,
    grey copied to 3 channels, standardised) or a ``.npz`` file (``data_root`` / the name, or a path) holding
    ``x`` (N x 32 x 32 x 3 uint8 images, e.g. CIFAR-10) and ``y`` (int labels) -- per-channel standardised.
    The images are drawn without replacement with ``numpy.random.default_rng(seed)``.
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 2:
        raise SurrogateNASError(f"batch_size must be an int >= 2, got {batch_size!r}")
    rng = np.random.default_rng(seed)
    if str(dataset) == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        if batch_size > len(d.target):
            raise SurrogateNASError(f"batch_size {batch_size} exceeds the {len(d.target)} digits")
        idx = np.sort(rng.choice(len(d.target), size=batch_size, replace=False))
        x = torch.from_numpy(d.images[idx].astype(np.float32) / 16.0)[:, None]
        x = nn.functional.interpolate(x, size=INPUT_SHAPE[1:], mode="bilinear", align_corners=False)
        x = x.repeat(1, INPUT_SHAPE[0], 1, 1)
        x = (x - x.mean()) / x.std()
        return x.contiguous(), torch.from_numpy(d.target[idx].astype(np.int64)), 10, "digits (sklearn, 8x8 -> 32x32x3)"
    path = Path(data_root) / str(dataset) if data_root is not None and not Path(dataset).is_file() else Path(dataset)
    if path.suffix != ".npz" or not path.is_file():
        raise DataError(
            f"dataset {str(dataset)!r}: expected 'digits' or an existing .npz file with arrays x, y "
            f"(looked at {str(path)!r})"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            xs, ys = np.asarray(z["x"]), np.asarray(z["y"]).ravel()
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{str(path)!r}: cannot read arrays 'x' and 'y' ({e})") from None
    if xs.ndim != 4 or xs.shape[1:] != (INPUT_SHAPE[1], INPUT_SHAPE[2], INPUT_SHAPE[0]) or len(ys) != len(xs):
        raise DataError(f"{str(path)!r}: x must be N x 32 x 32 x 3 with N labels in y, got x {xs.shape}, y {ys.shape}")
    _check_images(path, xs, ys)
    if batch_size > len(xs):
        raise SurrogateNASError(f"batch_size {batch_size} exceeds the {len(xs)} images in {str(path)!r}")
    ys = ys.astype(np.int64)
    idx = np.sort(rng.choice(len(xs), size=batch_size, replace=False))
    x = torch.from_numpy(xs[idx].astype(np.float32)).permute(0, 3, 1, 2)
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return ((x - mean) / std).contiguous(), torch.from_numpy(ys[idx]), int(ys.max()) + 1, f"npz {path.name}"
