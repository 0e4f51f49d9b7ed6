"""Train one NB-201 network with the benchmark's recipe; per-epoch checkpoints and resume.

Default recipe (NB-201, 200-epoch setting): SGD with Nesterov momentum 0.9, lr 0.1 with cosine
decay to 0 (stepped every iteration), weight decay 5e-4 on every parameter, batch 256,
cross-entropy, random crop + horizontal flip for CIFAR/ImageNet16. ``epochs`` is an argument so
verification can afford short runs. The built-in ``digits`` data (1,347 8x8 training images) gets a
recipe that fits it (:data:`RECIPES`) for every size field the user leaves unset.

Determinism: weights are initialised from ``seed`` and every epoch's shuffling and augmentation use
a generator seeded by ``(seed, epoch)``, so a run resumed from its epoch-``k`` checkpoint continues
exactly as the uninterrupted run would (same device, same thread count).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from ..devices import resolve_device as _resolve_device
from ..errors import DataError
from ..io import atomic_path, atomic_write_text
from ..networks import build_network, count_flops, count_parameters
from ..spaces import Architecture, get_space
from .config import TrainConfig
from .data import ImageData, iterate_batches, load_dataset
from .errors import TrainingError, TrainingOOMError

__all__ = [
    "TrainResult",
    "train",
    "resolve_device",
    "CHECKPOINT_NAME",
]

CHECKPOINT_NAME = "last.pt"


@dataclass
class TrainResult:
    """What one training run measured. Accuracies are percentages (as in NB-201's tables)."""

    arch: str
    dataset: str
    seed: int
    epochs: int
    test_acc: float
    test_loss: float
    valid_acc: float | None
    params: int
    flops: int
    train_seconds: float
    images_per_second: float
    device: str
    resumed_from_epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; anything else must be a valid, present device."""
    return _resolve_device(device, TrainingError)


# ---------------------------------------------------------------------- steps (module level: patchable)
def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _train_step(model, x, y, optimizer, scheduler, device, precision) -> tuple[float, int]:
    """One SGD step; returns (summed loss, correct predictions) over the batch."""
    optimizer.zero_grad(set_to_none=True)
    with _autocast(device, precision):
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    optimizer.step()
    scheduler.step()
    return float(loss.detach()) * y.shape[0], int((logits.argmax(1) == y).sum())


@torch.no_grad()
def evaluate(model, x_all, y_all, data: ImageData, device, precision, batch_size, channels_last=False):
    """(mean loss, accuracy %) of ``model`` on raw images ``x_all`` / labels ``y_all``."""
    model.eval()
    total_loss, correct, n = 0.0, 0, int(y_all.shape[0])
    for idx in iterate_batches(n, batch_size):
        x = data.prepare(x_all[idx], device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = y_all[idx].to(device)
        with _autocast(device, precision):
            logits = model(x)
        total_loss += float(nn.functional.cross_entropy(logits.float(), y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    return total_loss / max(n, 1), 100.0 * correct / max(n, 1)


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed((int(seed) * 1_000_003 + int(epoch)) % (2**63 - 1))
    return g


def _is_oom(e: BaseException) -> bool:
    types = tuple(
        t for t in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None)) if t
    )
    return isinstance(e, types) or (isinstance(e, RuntimeError) and "out of memory" in str(e).lower())


# ---------------------------------------------------------------------- checkpoints
def _save_checkpoint(path: Path, state: dict[str, Any], meta: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save({**state, "meta_json": json.dumps(meta, sort_keys=True)}, tmp)
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2, sort_keys=True))


def _load_checkpoint(path: Path, expected: dict[str, Any]) -> dict[str, Any]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise DataError(f"cannot read checkpoint {str(path)!r}: {e}") from None
    meta = json.loads(ckpt.get("meta_json", "{}"))
    for key, value in expected.items():
        if meta.get(key) != value:
            raise DataError(
                f"checkpoint {str(path)!r} belongs to another run ({key}={meta.get(key)!r}, this run has {value!r}); "
                "use another checkpoint directory or delete it"
            )
    return ckpt


# ---------------------------------------------------------------------- train
def train(
    arch: Architecture | str,
    dataset: str | ImageData,
    config: TrainConfig | None = None,
    *,
    data_root: str | os.PathLike | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train the NB-201 network of ``arch`` on ``dataset`` and measure it on the held-out test split.

    ``checkpoint_dir``: save ``last.pt`` (model/optimizer/scheduler state + JSON metadata) atomically
    after every epoch and resume from it when present. ``callback(epoch, metrics)`` runs after each
    epoch's checkpoint (epochs counted from 1). Raises InvalidArchitectureError for an arch of
    another space, SurrogateNASError/DataError for a bad dataset or data root, TrainingOOMError when
    the device runs out of memory.
    """
    config = (config or TrainConfig()).validate()
    space = get_space("nb201")
    arch = space.coerce(arch)
    arch_str = space.format(arch)
    data = load_dataset(dataset, data_root)
    config = config.resolved(data.name)
    device = resolve_device(config.device)
    threads_before = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(int(config.num_threads))
    try:
        return _train(arch, arch_str, data, device, config, checkpoint_dir, callback)
    except Exception as e:
        if _is_oom(e):
            raise TrainingOOMError(
                f"out of memory on {device} training {arch_str} on {data.name} with batch_size="
                f"{config.batch_size} (C={config.C}, N={config.N}); try a smaller batch, e.g. "
                f"batch_size={max(1, (config.batch_size or 2) // 2)}, or precision='bf16'"
            ) from e
        raise
    finally:
        torch.set_num_threads(threads_before)


@dataclass
class _Progress:
    """Where a run stands: epochs done, their metrics, the time spent training and the images seen so far."""

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    images: int = 0


@dataclass
class _Learner:
    """The network (whose state is saved), what runs it (the network or its compiled form), its optimizer and
    learning-rate schedule."""

    net: nn.Module
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any

    @classmethod
    def of(cls, net: nn.Module, device: torch.device, config, n_train: int) -> _Learner:
        """``net`` on ``device`` (channels-last, compiled as the resolved ``config`` says), with SGD and a cosine
        schedule stepped every iteration over ``config.epochs`` epochs of ``n_train`` images."""
        net = net.to(device)
        if config.channels_last:
            net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack it
        model = cast(nn.Module, torch.compile(net)) if config.compile else net  # compiling a module gives a module
        steps_per_epoch = math.ceil(n_train / config.batch_size)
        optimizer = torch.optim.SGD(
            net.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=config.epochs * steps_per_epoch, eta_min=config.lr_min
        )
        return cls(net, model, optimizer, scheduler)

    def state(self, progress: _Progress) -> dict[str, Any]:
        """What a checkpoint holds: the states of the network, optimizer and schedule, and ``progress``."""
        return {
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": progress.epoch,
            "history_json": json.dumps(progress.history),
            "train_seconds": progress.train_seconds,
            "images": progress.images,
        }

    def resume(self, ckpt: dict[str, Any]) -> _Progress:
        """Load a checkpoint's states; returns the progress it had made."""
        self.net.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        history = list(json.loads(ckpt["history_json"]))
        return _Progress(int(ckpt["epoch"]), history, float(ckpt["train_seconds"]), int(ckpt["images"]))


def _train(arch, arch_str, data, device, config, checkpoint_dir, callback) -> TrainResult:
    fit_data = data.split_valid(config.valid_fraction, config.seed) if config.valid_fraction > 0 else data
    net = build_network(arch, data.num_classes, C=config.C, N=config.N, in_channels=data.in_channels, seed=config.seed)
    params, flops = count_parameters(net), count_flops(net, data.image_shape)
    learner = _Learner.of(net, device, config, len(fit_data))
    meta = {
        "arch": arch_str,
        "dataset": data.name,
        "config_fingerprint": config.fingerprint(),
        "config": config.to_dict(),
    }
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    progress = _Progress()
    if ckpt_path is not None and ckpt_path.is_file():
        progress = learner.resume(
            _load_checkpoint(ckpt_path, {k: meta[k] for k in ("arch", "dataset", "config_fingerprint")})
        )
    resumed_from = progress.epoch
    bar = _progress(config, arch_str, data.name, progress.epoch)
    try:
        for epoch in range(progress.epoch, config.epochs):
            metrics = _run_epoch(learner, fit_data, device, config, epoch, arch_str, progress)
            if ckpt_path is not None:
                _save_checkpoint(ckpt_path, learner.state(progress), {**meta, "epoch": epoch + 1})
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: round(v, 3) for k, v in metrics.items() if k != "epoch"})
            if callback is not None:
                callback(epoch + 1, dict(metrics))
    finally:
        if bar is not None:
            bar.close()
    return _tested(learner, data, device, config, arch_str, params, flops, progress, resumed_from)


def _tested(
    learner: _Learner,
    data: ImageData,
    device,
    config,
    arch_str: str,
    params: int,
    flops: int,
    progress: _Progress,
    resumed_from: int,
) -> TrainResult:
    """The run's result: the trained model measured on the test split, with its size, training history and
    speed."""
    test_loss, test_acc = evaluate(
        learner.model,
        data.test_x,
        data.test_y,
        data,
        device,
        config.precision,
        config.eval_batch_size,
        config.channels_last,
    )
    return TrainResult(
        arch=arch_str,
        dataset=data.name,
        seed=config.seed,
        epochs=config.epochs,
        test_acc=test_acc,
        test_loss=test_loss,
        valid_acc=progress.history[-1].get("valid_acc") if progress.history else None,
        params=params,
        flops=flops,
        train_seconds=progress.train_seconds,
        images_per_second=progress.images / progress.train_seconds if progress.train_seconds else 0.0,
        device=_device_name(device),
        resumed_from_epoch=resumed_from,
        history=progress.history,
    )


def _run_epoch(
    learner: _Learner, fit_data: ImageData, device, config, epoch: int, arch_str: str, progress: _Progress
) -> dict[str, float]:
    """Train one epoch with the resolved ``config`` (its shuffling and augmentation seeded by ``(seed, epoch)``);
    adds it to ``progress`` and returns its metrics (the validation split's too when there is one)."""
    learner.model.train()
    g = _epoch_generator(config.seed, epoch)
    t0 = time.perf_counter()
    loss_sum, correct, seen = 0.0, 0, 0
    for idx in iterate_batches(len(fit_data), config.batch_size, generator=g):
        x = fit_data.prepare(fit_data.train_x[idx], device, generator=g)
        if config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = fit_data.train_y[idx].to(device)
        loss, c = _train_step(learner.model, x, y, learner.optimizer, learner.scheduler, device, config.precision)
        loss_sum, correct, seen = loss_sum + loss, correct + c, seen + y.shape[0]
        if not math.isfinite(loss):
            raise TrainingError(f"training {arch_str} diverged (loss {loss}) at epoch {epoch + 1}; lower lr")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    progress.train_seconds += time.perf_counter() - t0
    progress.images += seen
    metrics = {
        "epoch": epoch + 1,
        "train_loss": loss_sum / seen,
        "train_acc": 100.0 * correct / seen,
        "lr": float(learner.scheduler.get_last_lr()[0]),
    }
    if config.valid_fraction > 0:
        metrics["valid_loss"], metrics["valid_acc"] = evaluate(
            learner.model,
            fit_data.test_x,
            fit_data.test_y,
            fit_data,
            device,
            config.precision,
            config.eval_batch_size,
            config.channels_last,
        )
    progress.history.append(metrics)
    progress.epoch = epoch + 1
    return metrics


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device}:{torch.cuda.get_device_name(device)}"
    return str(device)


def _progress(config: TrainConfig, arch: str, dataset: str, start: int):
    if not config.progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=config.epochs, initial=start, desc=f"{dataset} {arch}", unit="epoch", leave=False)
