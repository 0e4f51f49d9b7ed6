"""Checkpoints: a directory with ``model.pt`` (state_dict, loaded with ``weights_only=True``) + ``config.json``.

The directory is written as one unit (:func:`surrogate_nas.io.atomic_dir`), so its files always
belong together; ``config.json`` also records the sha256 of ``model.pt``, checked at load.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar

import torch
from pydantic import Field

from .. import __version__
from ..benchmarks.cache import sha256_of
from ..errors import DataError, SurrogateNASError
from ..io import atomic_dir, check_writable
from ..predictors.gnn import CONV_PREFIXES, GraphRegressor, ModelConfig
from ..spaces import SearchSpace, get_space
from ..typed import TypedConfig
from .maml import MetaConfig

#: 2: a lower-is-better metric is meta-trained negated, as its source ranks are oriented (``TargetScale.sign``).
FORMAT_VERSION = 2
#: Older versions this one still reads (a version-1 checkpoint of a lower-is-better metric is refused: its network
#: read the values against its sources' ranks, so its transfer prior weighed nothing).
READABLE_VERSIONS = (1, FORMAT_VERSION)
#: The files that make a directory a checkpoint.
FILES = ("model.pt", "config.json")
_REQUIRED = ("format_version", "space", "vocabulary", "model", "meta", "sources", "target_metric")
_OPTIONAL = ("surrogate_nas_version", "normalisation", "info", "model_sha256")


#: How checkpoints written before a MetaConfig field existed were meta-trained (filled in at load, so a
#: checkpoint's ``meta`` always says how it was made).
LEGACY_META = {
    "top_weight": 0.0,
    "kernel": "rbf",
    "gp_head": False,
    "gp_iterations": 200,
    "target_scale": "zscore",
    "meta_val": "archs",
}


#: A metric as a checkpoint names it: ``NAME`` or ``NAME@FIDELITY``.
METRIC_PATTERN = r"^[A-Za-z_][\w.\-]*(@[\w.\-]+)?$"


class SourcesBlock(TypedConfig):
    """``config.json``'s ``sources``: the benchmark whose records the checkpoint reads at adaptation, its source
    tasks, their metric and direction, and the free features it was meta-trained with."""

    what: ClassVar[str] = "sources"

    benchmark: str = Field(min_length=1)
    tasks: list[Annotated[str, Field(min_length=1)]] = []
    metric: Annotated[str, Field(pattern=METRIC_PATTERN)] | None = None
    higher_is_better: bool = True
    features: list[Annotated[str, Field(min_length=1)]] = []


class CheckpointError(SurrogateNASError):
    """A checkpoint is missing, truncated, or from another space/format."""


@dataclass
class Checkpoint:
    """A meta-trained predictor: module, learned inner learning rates, and how it was made."""

    space: SearchSpace
    model: GraphRegressor
    meta: dict  # MetaConfig as a dict (inner steps/lr used for adaptation)
    sources: dict  # {"benchmark", "tasks", "metric", "higher_is_better"}
    target_metric: str
    inner_lrs: dict[str, torch.Tensor] | None = None
    info: dict = field(default_factory=dict)  # training tasks, history, timings
    gp: dict[str, torch.Tensor] | None = None  # the deep-kernel GP head's hyper-parameters (algorithm "dkt")

    def config(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "surrogate_nas_version": __version__,
            "space": self.space.name,
            "vocabulary": list(self.space.vocabulary),
            "model": self.model.config.to_dict(),
            "meta": self.meta,
            "sources": self.sources,
            "target_metric": self.target_metric,
            "normalisation": "per-task z-score of targets from the support set; sources rank-normalised to [-1, 1]",
            "info": self.info,
        }


def is_checkpoint_dir(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds a checkpoint's files (so writing a new one there replaces it)."""
    d = Path(directory)
    return d.is_dir() and all((d / f).is_file() for f in FILES)


def check_output_dir(directory: str | os.PathLike) -> Path:
    """Refuse, before any work, a place a checkpoint cannot be written to.

    Allowed: a new path under a writable directory, an empty directory, or an existing checkpoint
    (replaced as a whole). Refused: a file, a non-empty directory that is not a checkpoint, a
    location the user cannot write.
    """
    d = Path(directory)
    if d.is_dir() and any(d.iterdir()) and not is_checkpoint_dir(d):
        raise CheckpointError(
            f"checkpoint directory {d} is a non-empty directory that is not a checkpoint; "
            "choose a new or empty directory"
        )
    try:
        check_writable(d, "checkpoint directory", directory=True)
    except SurrogateNASError as e:
        raise CheckpointError(str(e)) from None
    return d


def save_checkpoint(ckpt: Checkpoint, directory: str | os.PathLike, extra: dict[str, str] | None = None) -> Path:
    """Write ``model.pt``, ``config.json`` (and ``extra`` {file name: text}) into ``directory`` as one unit.

    An existing checkpoint there is replaced as a whole; an interrupted save leaves it untouched.
    """
    d = check_output_dir(directory)
    state = {k: v.detach().cpu() for k, v in ckpt.model.state_dict().items()}
    if ckpt.inner_lrs is not None:
        state.update({f"inner_lr.{k}": v.detach().cpu() for k, v in ckpt.inner_lrs.items()})
    if ckpt.gp is not None:
        state.update({f"gp.{k}": v.detach().cpu() for k, v in ckpt.gp.items()})
    try:
        with atomic_dir(d) as tmp:
            torch.save(state, tmp / "model.pt")
            cfg = {**ckpt.config(), "model_sha256": sha256_of(tmp / "model.pt")}
            (tmp / "config.json").write_text(json.dumps(cfg, indent=2, default=float))
            for name, text in (extra or {}).items():
                (tmp / name).write_text(text)
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint {d}: {e.strerror or e}") from None
    return d


def load_checkpoint(directory: str | os.PathLike, device: str = "cpu", defer_convs: bool = False) -> Checkpoint:
    """Load a checkpoint directory; refuses other formats/spaces and truncated files with a clear error.

    ``defer_convs``: the model's convolutions (PyG modules) are built when first needed
    (:class:`~surrogate_nas.predictors.gnn.GraphRegressor`), so a prediction from stored graph rows
    (:func:`~surrogate_nas.meta.pooled.rows_on_disk`) does not import PyG; their weights are checked then."""
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise CheckpointError(f"checkpoint {d} is a file; expected the directory written by `surrogate-nas pretrain`")
    cfg_path, model_path = d / "config.json", d / "model.pt"
    for p in (cfg_path, model_path):
        if not p.is_file():
            raise CheckpointError(f"checkpoint {d}: missing {p.name} (expected the output of `surrogate-nas pretrain`)")
    cfg = _read_config(d, cfg_path)
    try:
        space = get_space(cfg["space"])
    except SurrogateNASError:
        raise CheckpointError(f"checkpoint {d}: unknown space {cfg.get('space')!r}") from None
    if cfg.get("vocabulary") != list(space.vocabulary):
        raise CheckpointError(
            f"checkpoint {d}: op vocabulary differs from space {space.name!r}'s; it was made for another version"
        )
    try:
        model_cfg = ModelConfig(**cfg["model"])
        meta = MetaConfig(**{**LEGACY_META, **cfg["meta"]}).to_dict()
        sources = SourcesBlock(**cfg["sources"]).to_dict()
    except SurrogateNASError as e:
        raise CheckpointError(f"checkpoint {d}: config.json: {e}") from None
    if cfg["format_version"] == 1 and not sources["higher_is_better"]:
        raise CheckpointError(
            f"checkpoint {d}: format version 1 of a lower-is-better metric ({cfg['target_metric']!r:.60}): it was "
            "meta-trained on the values against its sources' ranks, so its transfer prior weighed nothing; pretrain "
            "it again"
        )
    if not re.match(METRIC_PATTERN, cfg["target_metric"]):
        raise CheckpointError(
            f"checkpoint {d}: config.json: target_metric must be a metric name (NAME or NAME@FIDELITY), "
            f"got {cfg['target_metric']!r:.60}"
        )
    if model_cfg.feature_columns != len(sources["features"]):
        raise CheckpointError(
            f"checkpoint {d}: meta-trained with {len(sources['features'])} free feature(s) "
            f"{sources['features']} but its model reads {model_cfg.feature_columns} feature column(s)"
            + (
                "; it was made by a version whose transfer prior averaged the features in: pretrain it again"
                if model_cfg.feature_columns == 0
                else ""
            )
        )
    state = _read_weights(d, model_path, device)
    if "model_sha256" in cfg and sha256_of(model_path) != cfg["model_sha256"]:
        raise CheckpointError(
            f"checkpoint {d}: model.pt does not match config.json (sha256 differs); "
            "the files come from different saves or model.pt was changed"
        )
    model = GraphRegressor(len(space.vocabulary), model_cfg, defer_convs=defer_convs).to(device)
    model.weights_from = f"checkpoint {d}: model.pt"
    inner = {k[len("inner_lr.") :]: v for k, v in state.items() if k.startswith("inner_lr.")}
    gp = {k[len("gp.") :]: v for k, v in state.items() if k.startswith("gp.")}
    weights = {k: v for k, v in state.items() if not k.startswith(("inner_lr.", "gp."))}
    _check_fit(d, model, weights)
    model.load_state_dict(weights)
    if (meta["algorithm"] == "dkt" or meta["gp_head"]) != bool(gp):
        raise CheckpointError(
            f"checkpoint {d}: model.pt {'lacks' if not gp else 'holds'} GP head weights but config.json "
            f"says algorithm {meta['algorithm']!r}, gp_head {meta['gp_head']}"
        )
    if gp:
        from .deep_kernel import make_gp

        try:
            make_gp(model.embedding_dim(), meta["kernel"], gp, space)
        except (RuntimeError, KeyError) as e:
            raise CheckpointError(
                f"checkpoint {d}: the GP head's weights do not fit its kernel "
                f"{meta['kernel']!r} ({str(e).splitlines()[0][:120]})"
            ) from None
    return Checkpoint(space, model, meta, sources, cfg["target_metric"], inner or None, cfg.get("info", {}), gp or None)


def check_finite_weights(ckpt: Checkpoint, where: str = "checkpoint") -> None:
    """Refuse a checkpoint whose weights (or learned inner learning rates) hold NaN/inf."""
    own = {**dict(torch.nn.Module.named_parameters(ckpt.model)), **ckpt.model.graph_weights()}  # builds no conv
    tensors = (
        list(own.items())
        + [(f"inner_lr.{k}", v) for k, v in (ckpt.inner_lrs or {}).items()]
        + [(f"gp.{k}", v) for k, v in (ckpt.gp or {}).items()]
    )
    for name, v in tensors:
        if not torch.isfinite(v).all():
            raise DataError(
                f"{where}: weight {name!r} holds NaN/inf values; the checkpoint is corrupt (pretrain it again)"
            )


def _read_config(d: Path, path: Path) -> dict:
    try:
        cfg = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {d}: config.json is not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"checkpoint {d}: config.json holds a JSON {type(cfg).__name__}, expected an object")
    if cfg.get("format_version") not in READABLE_VERSIONS:
        raise CheckpointError(
            f"checkpoint {d}: format version {cfg.get('format_version')!r}, this surrogate_nas reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    missing = [k for k in _REQUIRED if k not in cfg]
    if missing:
        raise CheckpointError(f"checkpoint {d}: config.json lacks key(s) {', '.join(missing)}")
    extra = sorted(set(cfg) - set(_REQUIRED) - set(_OPTIONAL))
    if extra:
        raise CheckpointError(f"checkpoint {d}: config.json has unknown key(s) {', '.join(extra)}")
    for key, kind in (("model", dict), ("meta", dict), ("sources", dict), ("target_metric", str), ("info", dict)):
        if key in cfg and not isinstance(cfg[key], kind):
            raise CheckpointError(
                f"checkpoint {d}: config.json key {key!r} must be a JSON "
                f"{'object' if kind is dict else 'string'}, got {cfg[key]!r:.60}"
            )
    return cfg


def _read_weights(d: Path, path: Path, device: str) -> dict[str, torch.Tensor]:
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols: the error below says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        if str(e).startswith("Weights only load failed"):
            raise CheckpointError(
                f"checkpoint {d}: model.pt holds objects that are not weights (code or other "
                "Python objects); refused: a checkpoint may only hold tensors"
            ) from None
        raise CheckpointError(
            f"checkpoint {d}: model.pt is truncated or corrupt (not a PyTorch weights file)"
        ) from None
    except Exception as e:  # noqa: BLE001 - torch reports a damaged file with many exception types
        raise CheckpointError(f"checkpoint {d}: model.pt is truncated or corrupt ({type(e).__name__})") from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(
            f"checkpoint {d}: model.pt holds a {type(state).__name__}, expected a state_dict "
            "(a mapping of parameter names to tensors)"
        )
    bad = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:
        raise CheckpointError(
            f"checkpoint {d}: model.pt has non-finite (NaN/inf) weights in {bad!r}; the training that wrote it diverged"
        )
    return state


def _check_fit(d: Path, model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """One line naming how the weights differ from the configured model (not torch's state_dict dump). Deferred
    convolutions are checked when they are built."""
    if getattr(model, "convs_deferred", False):
        own = torch.nn.Module.state_dict(model)  # what is built, without building the rest
        weights = {k: v for k, v in weights.items() if not k.startswith(CONV_PREFIXES)}
    else:
        own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    shapes = [k for k in own if k in weights and weights[k].shape != own[k].shape]
    if not (missing or unexpected or shapes):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensor(s) missing (e.g. {missing[0]!r})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected tensor(s) (e.g. {unexpected[0]!r})")
    if shapes:
        k = shapes[0]
        parts.append(
            f"{len(shapes)} tensor(s) of another shape (e.g. {k!r}: {tuple(weights[k].shape)} in model.pt, "
            f"{tuple(own[k].shape)} configured)"
        )
    raise CheckpointError(f"checkpoint {d}: model.pt does not fit the model config.json describes: {'; '.join(parts)}")
