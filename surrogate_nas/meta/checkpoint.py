"""Checkpoints: ``model.pt`` (state_dict, loaded with ``weights_only=True``) + ``config.json``."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import __version__
from ..errors import SurrogateNASError
from ..io import atomic_path, atomic_write_text
from ..predictors.gnn import GraphRegressor, ModelConfig
from ..spaces import SearchSpace, get_space

FORMAT_VERSION = 1


class CheckpointError(SurrogateNASError):
    """A checkpoint is missing, truncated, or from another space/format."""


@dataclass
class Checkpoint:
    """A meta-trained predictor: module, learned inner learning rates, and how it was made."""

    space: SearchSpace
    model: GraphRegressor
    meta: dict                      # MetaConfig as a dict (inner steps/lr used for adaptation)
    sources: dict                   # {"benchmark", "tasks", "metric", "higher_is_better"}
    target_metric: str
    inner_lrs: dict[str, torch.Tensor] | None = None
    info: dict = field(default_factory=dict)  # training tasks, history, timings

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


def save_checkpoint(ckpt: Checkpoint, directory: str | os.PathLike) -> Path:
    """Write ``model.pt`` and ``config.json`` atomically into ``directory``."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CheckpointError(f"cannot create checkpoint directory {d}: {e}") from None
    state = {k: v.detach().cpu() for k, v in ckpt.model.state_dict().items()}
    if ckpt.inner_lrs is not None:
        state.update({f"inner_lr.{k}": v.detach().cpu() for k, v in ckpt.inner_lrs.items()})
    try:
        with atomic_path(d / "model.pt") as tmp:
            torch.save(state, tmp)
        atomic_write_text(d / "config.json", json.dumps(ckpt.config(), indent=2, default=float))
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint into {d}: {e}") from None
    return d


def load_checkpoint(directory: str | os.PathLike, device: str = "cpu") -> Checkpoint:
    """Load a checkpoint directory; refuses other formats/spaces and truncated files with a clear error."""
    d = Path(directory)
    cfg_path, model_path = d / "config.json", d / "model.pt"
    for p in (cfg_path, model_path):
        if not p.is_file():
            raise CheckpointError(f"checkpoint {d}: missing {p.name} (expected the output of `surrogate-nas pretrain`)")
    try:
        cfg = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {d}: config.json is not valid JSON ({e})") from None
    if cfg.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {d}: format version {cfg.get('format_version')!r}, this surrogate_nas reads {FORMAT_VERSION}"
        )
    try:
        space = get_space(cfg["space"])
    except (KeyError, SurrogateNASError):
        raise CheckpointError(f"checkpoint {d}: unknown space {cfg.get('space')!r}") from None
    if cfg.get("vocabulary") != list(space.vocabulary):
        raise CheckpointError(f"checkpoint {d}: op vocabulary differs from space {space.name!r}'s; it was made for another version")
    try:
        state = torch.load(model_path, map_location=device, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, OSError) as e:
        raise CheckpointError(f"checkpoint {d}: model.pt is truncated or corrupt ({type(e).__name__}: {e})") from None
    model = GraphRegressor(len(space.vocabulary), ModelConfig(**cfg["model"])).to(device)
    inner = {k[len("inner_lr."):]: v for k, v in state.items() if k.startswith("inner_lr.")}
    weights = {k: v for k, v in state.items() if not k.startswith("inner_lr.")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {d}: weights do not fit the configured model ({e})") from None
    return Checkpoint(space, model, cfg["meta"], cfg["sources"], cfg["target_metric"], inner or None, cfg.get("info", {}))
