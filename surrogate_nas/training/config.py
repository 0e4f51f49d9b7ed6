"""The typed configurations of real training: :class:`TrainConfig` (one run) and :class:`VerifyConfig` (a
``verify``). Fields are checked on construction and assignment (one line naming the field and the value); what
needs the machine (the device, the dataset's files) is checked by ``validate()``.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ..devices import resolve_device
from ..io import fingerprint
from ..spaces import get_space
from ..typed import MAX_SEED, Float, Int, Seed, TypedConfig
from .data import check_dataset
from .errors import TrainingError

__all__ = ["NB201_RECIPE", "RECIPES", "TrainConfig", "VerifyConfig", "recipe"]

#: NB-201's 200-epoch recipe and skeleton size: the defaults for cifar10, cifar100, ImageNet16-120.
NB201_RECIPE: dict[str, Any] = {"epochs": 200, "batch_size": 256, "C": 16, "N": 5, "num_threads": None}
#: Per-dataset overrides of NB201_RECIPE. digits: 21 steps per epoch instead of 6 and a network its
#: 8x8 images can fill; 10 epochs reach ~98% test accuracy in about a second per candidate. One thread:
#: convolutions this small gain nothing from more and slow down many times on a busy machine.
RECIPES: dict[str, dict[str, Any]] = {"digits": {"epochs": 10, "batch_size": 64, "C": 8, "N": 1, "num_threads": 1}}


def recipe(dataset: str) -> dict[str, Any]:
    """The defaults for the :class:`TrainConfig` fields left ``None`` when training on ``dataset``."""
    return {**NB201_RECIPE, **RECIPES.get(dataset, {})}


class TrainConfig(TypedConfig):
    """How to train one candidate. Defaults reproduce NB-201's 200-epoch recipe on its skeleton.

    ``epochs``, ``batch_size``, ``C``, ``N`` and ``num_threads`` left ``None`` take the dataset's
    value from :func:`recipe` when training starts (:meth:`resolved`): NB-201's 200 / 256 / 16 / 5 /
    torch's own thread setting for cifar10, cifar100 and ImageNet16-120; 10 / 64 / 8 / 1 / 1 thread for
    ``digits``. A value you set is always kept.
    """

    what: ClassVar[str] = "train config"

    epochs: Int | None = Field(None, ge=1, le=100_000, description="training epochs (None: the dataset's recipe)")
    batch_size: Int | None = Field(None, ge=1, le=1_000_000, description="training batch size (None: the recipe)")
    lr: Float = Field(0.1, gt=0, description="initial learning rate (cosine schedule)")
    lr_min: Float = Field(0.0, ge=0, description="learning rate at the end of the cosine schedule")
    momentum: Float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    nesterov: bool = Field(True, description="Nesterov momentum")
    weight_decay: Float = Field(5e-4, ge=0, description="weight decay on every parameter")
    seed: Seed = Field(0, description="seed of the weights, shuffling and augmentation")
    C: Int | None = Field(None, ge=1, le=4096, description="stem width of the NB-201 skeleton (None: the recipe)")
    N: Int | None = Field(None, ge=0, le=1000, description="cells per stage of the NB-201 skeleton (None: the recipe)")
    device: str = Field("cpu", description="cpu, cuda, cuda:1, or auto (cuda when available)")
    precision: Literal["fp32", "bf16"] = Field("fp32", description="bf16: autocast; weights and optimizer stay fp32")
    channels_last: bool = Field(False, description="channels-last memory format")
    compile: bool = Field(False, description="torch.compile the network")
    valid_fraction: Float = Field(
        0.0, ge=0, lt=1, description="> 0: hold out this fraction of train as a validation split evaluated each epoch"
    )
    eval_batch_size: Int = Field(512, ge=1, le=1_000_000, description="batch size of evaluation")
    num_threads: Int | None = Field(None, ge=1, le=4096, description="torch intra-op threads (None: the recipe)")
    progress: bool = Field(True, description="show a progress bar")

    #: Fields that do not change what is learned (excluded from :meth:`fingerprint`).
    NON_RESULT_FIELDS: ClassVar[tuple[str, ...]] = ("progress", "num_threads", "eval_batch_size", "device", "compile")

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.lr_min > self.lr:
            raise ValueError(f"lr_min ({self.lr_min!r}) must not exceed lr ({self.lr!r})")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        return self

    def validate(self) -> TrainConfig:  # type: ignore[override]  # pydantic's deprecated classmethod
        """Check what needs this machine (the device is present); returns ``self``."""
        resolve_device(self.device, TrainingError)
        return self

    def resolved(self, dataset: str) -> TrainConfig:
        """This config with every ``None`` size field set from ``recipe(dataset)``."""
        fill = {k: v for k, v in recipe(dataset).items() if getattr(self, k) is None}
        return self.model_copy(update=fill) if fill else self

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` (validated)."""
        return TrainConfig(**{**self.to_dict(), **changes})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return cls(**d)

    def fingerprint(self) -> str:
        """Short hash of every field that changes the trained result."""
        d = {k: v for k, v in self.to_dict().items() if k not in self.NON_RESULT_FIELDS}
        return fingerprint(d)[:12]


class VerifyConfig(TypedConfig):
    """What ``surrogate-nas verify`` needs. ``backend_options`` go to the backend's constructor
    (``local``: ``workers``; ``ray``: ``address`` e.g. ``"auto"``, ``max_retries``).

    ``train``'s fields left ``None`` (epochs, batch size, C, N, threads) take the dataset's recipe in
    :meth:`validate` (see :class:`TrainConfig`): NB-201's 200 epochs, batch 256, C=16, N=5 for the
    real datasets; 10 epochs, batch 64, C=8, N=1 on one thread for ``digits`` (seconds on a CPU).
    """

    what: ClassVar[str] = "verify config"

    dataset: str = Field("cifar10", description="cifar10, cifar100, ImageNet16-120, or digits (built in)")
    data_root: str | None = Field(None, description="directory with the dataset files")
    space: str = Field("nb201", description="search space of the candidates")
    train: TrainConfig = Field(default_factory=TrainConfig, description="how each candidate is trained")
    seeds: tuple[Int, ...] = Field((0,), description="training seeds (one run per seed)")
    backend: Literal["local", "ray"] = Field("local", description="where the runs execute")
    backend_options: dict[str, Any] = Field(default_factory=dict, description="options of the backend")
    out_dir: str = Field("runs/verify", description="output directory (results.csv, summary.md)")
    top_k: Int | None = Field(
        None, ge=1, description="verify only the k best candidates by the file's 'rank' column (1 = best)"
    )
    append_to: str | None = Field(None, description="BenchmarkTable parquet to append the new records to")
    source: str = Field("verify", description="the source recorded with the new records")

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, v: Any) -> Any:
        seeds = tuple(v) if isinstance(v, (list, tuple)) else ()
        ok = all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and 0 <= int(s) <= MAX_SEED for s in seeds)
        if not seeds or not ok:
            raise ValueError("must be a non-empty sequence of ints in [0, 2**32)")
        if len(set(seeds)) != len(seeds):
            raise ValueError("repeats a seed")
        return tuple(int(s) for s in seeds)

    @field_validator("space")
    @classmethod
    def _nb201(cls, v: str) -> str:
        try:
            name = get_space(v).name
        except ValueError as e:
            raise ValueError(str(e)) from None
        if name != "nb201":
            raise ValueError("verify trains NB-201 networks: space must be 'nb201'")
        return v

    def validate(self) -> VerifyConfig:  # type: ignore[override]  # pydantic's deprecated classmethod
        """Check what needs this machine (device, dataset files; nothing is written) and fill ``train``'s unset
        fields from the dataset's recipe. Raises SurrogateNASError naming the bad value."""
        self.train.validate()
        self.dataset = check_dataset(self.dataset, self.data_root)
        self.train = self.train.resolved(self.dataset)
        return self

    def to_dict(self) -> dict[str, Any]:
        d = self.model_dump()
        d["seeds"] = list(self.seeds)
        return d
