"""The NAS-Bench-201 network: the exact macro skeleton of the benchmark with one cell repeated.

Skeleton (Dong & Yang, NAS-Bench-201, ICLR 2020; reference ``TinyNetwork`` / ``InferCell``):

- stem: Conv3x3(in_channels, C, bias=False) + BN
- three stages of ``N`` cells with ``C``, ``2C``, ``4C`` channels, separated by a ResNet basic
  block with stride 2 (ReLU-Conv3x3/s2-BN, ReLU-Conv3x3-BN, shortcut AvgPool2x2 + Conv1x1 no bias)
- BN + ReLU, global average pooling, linear classifier.

Inside a cell, node ``j`` is the sum over ``i < j`` of ``op_{i->j}(node_i)``; ``none`` contributes
zero. Ops: ``none``, ``skip_connect``, ``nor_conv_1x1`` / ``nor_conv_3x3`` (ReLU-Conv-BN), and
``avg_pool_3x3`` (stride 1, ``count_include_pad=False``).

The architecture stays a value (design rule 1); :func:`build_network` turns it into a module.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .errors import InvalidArchitectureError, SurrogateNASError
from .spaces import Architecture, get_space
from .spaces.nb201 import EDGES

__all__ = [
    "ReLUConvBN",
    "ResNetBasicBlock",
    "Zero",
    "NB201Cell",
    "NB201Network",
    "build_network",
    "count_parameters",
    "count_flops",
    "FLOP_CONVENTIONS",
]


class ReLUConvBN(nn.Module):
    """ReLU -> Conv (no bias) -> BatchNorm (affine)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Zero(nn.Module):
    """The ``none`` op: a zero tensor of the input's shape (NB-201 keeps it in the sum)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class ResNetBasicBlock(nn.Module):
    """NB-201's residual reduction block between stages (stride 2, channels doubled)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 2):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        if stride == 2:
            self.downsample: nn.Module | None = nn.Sequential(
                nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
            )
        elif c_in != c_out:
            self.downsample = ReLUConvBN(c_in, c_out, 1, 1, 0)
        else:
            self.downsample = None
        self.out_dim = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_b(self.conv_a(x))
        residual = self.downsample(x) if self.downsample is not None else x
        return residual + out


_OPS: dict[str, Callable[[int], nn.Module]] = {
    "none": lambda c: Zero(),
    "skip_connect": lambda c: nn.Identity(),
    "nor_conv_1x1": lambda c: ReLUConvBN(c, c, 1, 1, 0),
    "nor_conv_3x3": lambda c: ReLUConvBN(c, c, 3, 1, 1),
    "avg_pool_3x3": lambda c: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
}


class NB201Cell(nn.Module):
    """One NB-201 cell (4 nodes, 6 edges) with ``C`` channels in and out."""

    def __init__(self, ops: tuple[str, ...], channels: int):
        super().__init__()
        if len(ops) != len(EDGES):
            raise InvalidArchitectureError(f"nb201 cell needs {len(EDGES)} ops, got {len(ops)}: {ops!r}")
        unknown = [o for o in ops if o not in _OPS]
        if unknown:
            raise InvalidArchitectureError(f"nb201 cell: unknown op(s) {unknown!r}; ops are {', '.join(_OPS)}")
        self.ops = tuple(ops)
        self.edges = nn.ModuleList(_OPS[op](channels) for op in ops)
        self.out_dim = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in range(1, 4):
            total: torch.Tensor | None = None
            for slot, (src, dst) in enumerate(EDGES):
                if dst != target:
                    continue
                y = self.edges[slot](nodes[src])
                total = y if total is None else total + y
            assert total is not None  # every node has an incoming edge
            nodes.append(total)
        return nodes[-1]


class NB201Network(nn.Module):
    """The NB-201 macro skeleton around one repeated cell.

    ``C`` (stem width) and ``N`` (cells per stage) are the macro level of hierarchical search;
    the benchmark uses ``C=16, N=5``. ``in_channels`` is 3 for images; 1 for the built-in digits.
    """

    def __init__(self, ops: tuple[str, ...], num_classes: int, C: int = 16, N: int = 5, in_channels: int = 3):
        super().__init__()
        for name, value in (("num_classes", num_classes), ("C", C), ("in_channels", in_channels)):
            if not isinstance(value, int) or value < 1:
                raise SurrogateNASError(f"NB201Network: {name} must be a positive int, got {value!r}")
        if not isinstance(N, int) or N < 0:
            raise SurrogateNASError(f"NB201Network: N must be a non-negative int, got {N!r}")
        self.ops, self.C, self.N, self.num_classes, self.in_channels = tuple(ops), C, N, num_classes, in_channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))
        channels = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
        reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
        cells: list[nn.Module] = []
        c_prev = C
        for c_curr, reduction in zip(channels, reductions):
            cell = ResNetBasicBlock(c_prev, c_curr, 2) if reduction else NB201Cell(self.ops, c_curr)
            cells.append(cell)
            c_prev = cell.out_dim
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        x = self.global_pooling(self.lastact(x))
        return self.classifier(torch.flatten(x, 1))


def build_network(
    arch: Architecture | str,
    num_classes: int,
    C: int = 16,
    N: int = 5,
    in_channels: int = 3,
    seed: int | None = None,
) -> NB201Network:
    """Build the NB-201 network of an nb201 ``arch`` (value or native string).

    Raises :class:`InvalidArchitectureError` for an architecture of another space. With ``seed``
    the initial weights are reproducible (the global RNG is restored afterwards).
    """
    space = get_space("nb201")
    arch = space.coerce(arch)
    if seed is None:
        return NB201Network(arch.ops, num_classes=num_classes, C=C, N=N, in_channels=in_channels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return NB201Network(arch.ops, num_classes=num_classes, C=C, N=N, in_channels=in_channels)


def count_parameters(model: nn.Module) -> int:
    """Every parameter, BN affine included (the count NB-201 reports, in units rather than M)."""
    return sum(p.numel() for p in model.parameters())


#: FLOP conventions of :func:`count_flops`.
FLOP_CONVENTIONS = ("nb201", "naslib")


def count_flops(model: nn.Module, input_shape: tuple[int, int, int], convention: str = "nb201") -> int:
    """Forward FLOPs (multiply-adds) of one image. ``input_shape`` is (C, H, W).

    ``convention="nb201"`` counts as NB-201's ``get_model_infos`` does: Conv
    ``out_h*out_w*k_h*k_w*c_in*c_out/groups`` (+ bias); Linear ``in*out`` (+ bias); AvgPool2d ``out_elems*k*k``;
    BN, ReLU and the additions are not counted.

    ``convention="naslib"`` adds what NASLib's zero-cost benchmark files count on top: 2 per element of an
    affine BatchNorm (1 without affine), 1 per ReLU element and 1 per input element of an adaptive average
    pool. It reproduces the published FLOPs of NASLib's ``zc_nasbench201.json`` up to a constant 988 that
    both published test cells carry (``tests/test_networks.py``); a constant does not change any ranking.
    """
    if convention not in FLOP_CONVENTIONS:
        raise SurrogateNASError(
            f"count_flops: unknown convention {convention!r}; conventions: {', '.join(FLOP_CONVENTIONS)}"
        )
    counts: list[int] = []
    handles = []
    for mod in model.modules():
        flops = _flops_of(mod, naslib=convention == "naslib")
        if flops is not None:
            handles.append(mod.register_forward_hook(_recorder(flops, counts)))
    try:
        _forward_zeros(model, input_shape)
    finally:
        for h in handles:
            h.remove()
    return int(sum(counts))


def _conv_flops(m: nn.Conv2d, inp, out) -> int:
    kh, kw = m.kernel_size
    n = out.shape[2] * out.shape[3] * kh * kw * m.in_channels * m.out_channels // m.groups
    return n + (out[0].numel() if m.bias is not None else 0)


def _linear_flops(m: nn.Linear, inp, out) -> int:
    return m.in_features * m.out_features + (m.out_features if m.bias is not None else 0)


def _avg_pool_flops(m: nn.AvgPool2d, inp, out) -> int:
    k = m.kernel_size
    k2 = k * k if isinstance(k, int) else k[0] * k[1]
    return out[0].numel() * k2


def _batch_norm_flops(m: nn.BatchNorm2d, inp, out) -> int:
    return inp[0][0].numel() * (2 if m.affine else 1)


def _per_input_element(m: nn.Module, inp, out) -> int:
    return inp[0][0].numel()


def _flops_of(mod: nn.Module, naslib: bool) -> Callable | None:
    """How one forward of ``mod`` (one image) is counted: ``flops(module, inputs, output)``; None: it is not."""
    if isinstance(mod, nn.Conv2d):
        return _conv_flops
    if isinstance(mod, nn.Linear):
        return _linear_flops
    if isinstance(mod, nn.AvgPool2d):
        return _avg_pool_flops
    if naslib and isinstance(mod, nn.BatchNorm2d):
        return _batch_norm_flops
    if naslib and isinstance(mod, (nn.ReLU, nn.AdaptiveAvgPool2d)):
        return _per_input_element
    return None


def _recorder(flops: Callable, counts: list[int]) -> Callable:
    """A forward hook that appends the module's FLOPs to ``counts``."""

    def hook(m, inp, out):
        counts.append(flops(m, inp, out))

    return hook


def _forward_zeros(model: nn.Module, input_shape: tuple[int, int, int]) -> None:
    """One forward pass of a zero image in eval mode, without gradients; the model's mode is restored."""
    was_training = model.training
    try:
        model.eval()
        p = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), dtype=p.dtype, device=p.device))
    finally:
        model.train(was_training)
