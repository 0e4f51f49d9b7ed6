"""Deep ensembles: several meta-trained checkpoints (meta seeds) adapted on the same support and averaged.

On disk an ensemble is a directory with one checkpoint directory per member (``member-0/`` ...) and
``ensemble.json`` ({"format": "surrogate-nas-ensemble", "members": [...]}), written as one unit.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import SurrogateNASError

__all__ = ["MetaEnsemble", "is_ensemble_dir", "load_model", "model_files", "save_model"]


class MetaEnsemble:
    """Averages the predictions of one :class:`~surrogate_nas.meta.adapt.MetaGNNPredictor` per checkpoint.

    ``predict(archs, return_std=True)`` returns the mixture's std: the members' own predictive variance
    (a GP head's posterior; zero for a plain GNN without bootstrap members) plus the spread of their means;
    ``predict_cov(archs)`` the mixture's joint covariance of the noise-free values over a candidate batch.
    ``options`` are passed to every member (``seed`` differs per member: ``seed + i``).
    """

    has_uncertainty = True

    def __init__(self, checkpoints: Sequence, seed: int = 0, **options):
        checkpoints = list(checkpoints)
        if not checkpoints:
            raise SurrogateNASError("an ensemble needs at least one checkpoint")
        self.checkpoints = checkpoints
        self.seed = seed
        self.options = options

    def validate_params(self) -> None:
        """Check the members' options (:meth:`~surrogate_nas.meta.adapt.MetaGNNPredictor.validate_params`): one line
        naming the bad one. Called when fitting starts (and by the ``meta`` registry factory)."""
        from .adapt import MetaGNNPredictor

        MetaGNNPredictor(self.checkpoints[0], seed=self.seed, **self.options).validate_params()

    def fit(self, archs, y) -> MetaEnsemble:
        from .adapt import MetaGNNPredictor

        self.validate_params()
        archs = list(archs)
        self.members_ = [
            MetaGNNPredictor(ck, seed=self.seed + i, **self.options).fit(archs, y)
            for i, ck in enumerate(self.checkpoints)
        ]
        check_members([m.ckpt_ for m in self.members_], [f"member {i}" for i in range(len(self.members_))], "ensemble")
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            from ..errors import DataError

            raise DataError("predict() called before fit(): adapt the predictor on support measurements first")

    def _inputs(self, archs) -> tuple[list, list]:
        """(coerced archs, one :class:`~surrogate_nas.meta.predict_inputs.PredictInputs` per member): one shared by
        all when they read the same inputs, so the input columns are read and any uncached graphs converted once (each
        member keeps its own cache of pooled graph rows: their weights differ)."""
        from .predict_inputs import PredictInputs

        members = self.members_
        archs = [members[0].space_.coerce(a) for a in archs]  # check_members: one space
        if len({m.input_key() for m in members}) == 1:
            shared = PredictInputs(members[0], archs)
            return archs, [shared] * len(members)
        return archs, [PredictInputs(m, archs) for m in members]

    def predict(self, archs, return_std: bool = False, latent: bool = False):
        """Mean of the members' means; with ``return_std``, the mixture's std ``sqrt(mean of the members' variances
        + variance of their means)`` (each member's variance that of a measured value, see
        :meth:`~surrogate_nas.meta.adapt.MetaGNNPredictor.predict`; ``latent``: of the noise-free value, the
        square root of :meth:`predict_cov`'s diagonal)."""
        self._check_fitted()
        archs, inputs = self._inputs(archs)
        if not archs:
            return (np.zeros(0), np.zeros(0)) if return_std else np.zeros(0)
        outs = [m._predict(archs, return_std, inp, latent) for m, inp in zip(self.members_, inputs)]
        if not return_std:
            return np.mean(outs, axis=0)
        means = np.stack([o[0] for o in outs])
        var = np.stack([o[1] for o in outs]) ** 2
        return means.mean(0), np.sqrt(var.mean(0) + means.var(0))

    def predict_cov(self, archs) -> tuple[np.ndarray, np.ndarray]:
        """(mean [n], cov [n, n]) of the noise-free values at ``archs`` jointly (see
        :meth:`~surrogate_nas.meta.adapt.MetaGNNPredictor.predict_cov`), moment-matched over the members: the mean
        of their means, and the mean of their covariances plus the covariance (1/M) of their means. Its diagonal
        + :meth:`noise_variance` equals ``predict(archs, return_std=True)``'s std squared."""
        self._check_fitted()
        archs, inputs = self._inputs(archs)
        if not archs:
            return np.zeros(0), np.zeros((0, 0))
        outs = [m._predict_cov(archs, inp) for m, inp in zip(self.members_, inputs)]
        means = np.stack([o[0] for o in outs])
        d = means - means.mean(0)
        return means.mean(0), np.mean([o[1] for o in outs], axis=0) + d.T @ d / len(d)

    def noise_variance(self) -> float:
        """The mean of the members' :meth:`~surrogate_nas.meta.adapt.MetaGNNPredictor.noise_variance`: what
        ``predict``'s std squared holds beyond :meth:`predict_cov`'s diagonal."""
        self._check_fitted()
        return float(np.mean([m.noise_variance() for m in self.members_]))


# ---------------------------------------------------------------------- ensemble directories
#: ``ensemble.json``'s format tag; the file lists the member checkpoint directories (subdirectories).
FORMAT = "surrogate-nas-ensemble"
INDEX = "ensemble.json"


def member_name(i: int) -> str:
    return f"member-{i}"


def is_ensemble_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an ensemble directory (it holds ``ensemble.json``)."""
    p = Path(path)
    return p.is_dir() and (p / INDEX).is_file()


def _members_listed(d: Path) -> list[str]:
    """The member names of ``d/ensemble.json``; a malformed file raises one CheckpointError naming it."""
    from .checkpoint import CheckpointError

    index = d / INDEX
    try:
        doc = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"ensemble {index}: not a readable JSON file ({_one_line(e)})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else f"a JSON {type(doc).__name__}"
        raise CheckpointError(f"ensemble {index}: expected an object with format {FORMAT!r}, got {got!r}")
    members = doc.get("members")
    if (
        not isinstance(members, list)
        or not members
        or not all(isinstance(m, str) and m and m not in (".", "..") and Path(m).name == m for m in members)
    ):
        raise CheckpointError(
            f"ensemble {index}: 'members' must be a non-empty list of subdirectory names, got {members!r:.80}"
        )
    if len(set(members)) != len(members):
        dup = next(m for m in members if members.count(m) > 1)
        raise CheckpointError(f"ensemble {index}: member {dup!r} is listed twice")
    return members


def check_members(checkpoints: Sequence, names: Sequence[str], where: str) -> None:
    """Refuse members that differ from the first in space, sources (tasks, metric, features) or target metric."""
    from .checkpoint import CheckpointError

    first = checkpoints[0]
    for name, ck in zip(names[1:], checkpoints[1:]):
        for what, a, b in (
            ("space", first.space.name, ck.space.name),
            ("sources", first.sources, ck.sources),
            ("target metric", first.target_metric, ck.target_metric),
        ):
            if a != b:
                raise CheckpointError(
                    f"{where}: member {name!r} differs from {names[0]!r} in its {what} "
                    f"({b!r:.120} vs {a!r:.120}); an ensemble's members must read the same inputs"
                )


def load_model(path: str | os.PathLike, device: str = "cpu", defer_convs: bool = False):
    """A checkpoint directory -> its :class:`~surrogate_nas.meta.checkpoint.Checkpoint`; an ensemble directory
    -> its members' checkpoints (a list, in ``ensemble.json``'s order). ``defer_convs``: see
    :func:`~surrogate_nas.meta.checkpoint.load_checkpoint`."""
    from .checkpoint import CheckpointError, load_checkpoint

    d = Path(path)
    if not is_ensemble_dir(d):
        return load_checkpoint(d, device=device, defer_convs=defer_convs)
    names = _members_listed(d)
    members = []
    for name in names:
        if not (d / name).is_dir():
            raise CheckpointError(
                f"ensemble {d}: member {name!r} listed in {INDEX} is missing ({d / name} is not a directory)"
            )
        members.append(
            load_checkpoint(d / name, device=device, defer_convs=defer_convs)
        )  # its errors name d/name and the file
    check_members(members, names, f"ensemble {d}")
    return members


def model_files(path: str | os.PathLike) -> list[Path]:
    """The files that make the model at ``path`` (to fingerprint it): a checkpoint's config.json and model.pt; an
    ensemble's ensemble.json, then those of each listed member."""
    d = Path(path)
    if not is_ensemble_dir(d):
        return [d / "config.json", d / "model.pt"]
    return [d / INDEX] + [d / m / f for m in _members_listed(d) for f in ("config.json", "model.pt")]


def check_model_dir(path: str | os.PathLike) -> Path:
    """Refuse, before any work, a place a checkpoint or ensemble cannot be written to (an existing checkpoint or
    ensemble directory is allowed: it is replaced)."""
    from ..io import check_writable
    from .checkpoint import CheckpointError, check_output_dir

    d = Path(path)
    if not is_ensemble_dir(d):
        return check_output_dir(d)
    try:
        check_writable(d, "checkpoint directory", directory=True)
    except SurrogateNASError as e:
        raise CheckpointError(str(e)) from None
    return d


def save_model(
    checkpoints: Sequence,
    path: str | os.PathLike,
    extra: dict[str, str] | None = None,
    member_extra: Sequence[dict[str, str]] | None = None,
) -> Path:
    """Write one checkpoint (a checkpoint directory), or several (``member-i/`` each + ``ensemble.json``), as one unit.

    ``extra``: {file name: text} next to them; ``member_extra``: the same per member. An existing checkpoint or
    ensemble directory there is replaced as a whole: the entries of the old one that the new one lacks (its
    members, model files or ``ensemble.json``) are removed; other files are kept, as
    :func:`~surrogate_nas.io.atomic_dir` keeps them.
    """
    from ..io import atomic_dir
    from .checkpoint import FILES, CheckpointError, is_checkpoint_dir, save_checkpoint

    checkpoints = list(checkpoints)
    if not checkpoints:
        raise SurrogateNASError("save_model: no checkpoints given")
    d = check_model_dir(path)
    if len(checkpoints) == 1 and not is_ensemble_dir(d):
        return save_checkpoint(checkpoints[0], d, extra=extra)  # a checkpoint directory, as always
    old = set()  # the old model's own entries
    if is_ensemble_dir(d):
        old |= {INDEX}
        try:
            old |= set(_members_listed(d))
        except CheckpointError:
            pass  # a damaged index: its members are unknown, the names below still go
        old |= {p.name for p in d.glob("member-*") if p.is_dir()}
    if is_checkpoint_dir(d):
        old |= set(FILES)
    names = [member_name(i) for i in range(len(checkpoints))] if len(checkpoints) > 1 else []
    try:
        with atomic_dir(d) as tmp:
            if names:
                for i, (name, ck) in enumerate(zip(names, checkpoints)):
                    save_checkpoint(ck, tmp / name, extra=(member_extra or [{}] * len(names))[i])
                (tmp / INDEX).write_text(json.dumps({"format": FORMAT, "members": names}, indent=2) + "\n")
            else:
                save_checkpoint(checkpoints[0], tmp, extra=None)
            for name, text in (extra or {}).items():
                (tmp / name).write_text(text)
            new = {p.name for p in tmp.iterdir()}
        # the swap carried over the old model's entries the new one lacks: drop them, the index first
        for name in sorted(old - new, key=lambda n: n != INDEX):
            p = d / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint {d}: {e.strerror or e}") from None
    return d


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
