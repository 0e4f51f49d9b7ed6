"""Top-k verification: train candidates for real, record the measurements, compare with predictions.

``verify(candidates, config)`` is what ``surrogate-nas verify`` calls; :class:`TrainingEvaluator`
is what ``search --evaluator train`` uses. Outputs under ``config.out_dir`` (every write atomic):

- ``results.csv``: one row per (candidate, seed) with status/error, measured test accuracy, params,
  FLOPs, wall time, device, and ``predicted`` when the candidates came with predictions;
- ``summary.md``: predicted vs measured side by side (mean over seeds) + Kendall tau / Spearman rho;
- ``records.parquet``: the successful measurements as a :class:`BenchmarkTable` (task = dataset;
  metrics ``test_acc`` (%), ``params`` (M), ``flops`` (M), ``train_seconds``; seed; fidelity = epochs),
  also appended to ``config.append_to`` when given;
- ``verify.yaml``: the configuration; ``jobs/<key>/``: per-candidate checkpoints, results, attempt log.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..benchmarks.table import BenchmarkTable
from ..errors import DataError, InvalidArchitectureError, SurrogateNASError
from ..io import atomic_path, atomic_write_text, check_writable
from ..spaces import Architecture, get_space
from .backends import Backend, RayBackend, get_backend, make_job
from .config import TrainConfig, VerifyConfig
from .data import check_dataset

__all__ = ["VerifyConfig", "verify", "read_candidates", "TrainingEvaluator", "RESULT_COLUMNS"]

RESULT_COLUMNS = (
    "arch",
    "seed",
    "status",
    "error",
    "predicted",
    "test_acc",
    "valid_acc",
    "params_m",
    "flops_m",
    "train_seconds",
    "wall_seconds",
    "images_per_second",
    "epochs",
    "device",
    "attempts",
    "key",
)
RECORD_METRICS = {"test_acc": "test_acc", "params": "params_m", "flops": "flops_m", "train_seconds": "train_seconds"}


def read_candidates(path: str | os.PathLike) -> pd.DataFrame:
    """Read a candidates CSV: column ``arch`` (native strings) and optionally ``predicted``."""
    p = Path(path)
    if p.is_dir():
        raise DataError(f"candidates file {str(p)!r} is a directory, not a CSV file")
    if not p.is_file():
        raise DataError(f"candidates file {str(p)!r} does not exist")
    try:
        df = pd.read_csv(p, dtype={"arch": str})
    except pd.errors.EmptyDataError:
        raise DataError(f"candidates CSV {str(p)!r} is empty; it needs a header line with a column 'arch'") from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError, OSError) as e:
        raise DataError(f"cannot read candidates CSV {str(p)!r} (is it a text CSV file?): {_one_line(e)}") from None
    if "arch" not in df.columns:
        raise DataError(
            f"candidates CSV {str(p)!r} needs a column 'arch' (and optionally 'predicted'); has {list(df.columns)}"
        )
    if df.empty:
        raise DataError(f"candidates CSV {str(p)!r} has a header but no candidate rows")
    if "predicted" in df.columns:
        try:
            df["predicted"] = pd.to_numeric(df["predicted"], errors="raise")
        except (ValueError, TypeError) as e:
            raise DataError(f"candidates CSV {str(p)!r}: column 'predicted' is not numeric: {_one_line(e)}") from None
    return df


def _top_k(cands: pd.DataFrame, k: int, source) -> pd.DataFrame:
    """The ``k`` best candidates by the ``rank`` column the candidates state (1 = best; ``predict`` and
    ``search``'s top.csv write it): a value column alone does not say whether higher or lower is better."""
    if "rank" not in cands.columns:
        where = f"{str(source)!r}" if isinstance(source, (str, os.PathLike)) else "the candidates"
        raise SurrogateNASError(
            f"top_k ranks candidates by their 'rank' column (1 = best), which {where} lacks; `predict` and "
            "`search` (top.csv) write one"
        )
    try:
        rank = pd.to_numeric(cands["rank"], errors="raise")
    except (ValueError, TypeError) as e:
        raise SurrogateNASError(f"column 'rank' of {source!s:.80} is not numeric: {_one_line(e)}") from None
    return cands.assign(rank=rank).sort_values("rank", kind="stable").head(k).reset_index(drop=True)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _candidates(candidates, predicted, space) -> pd.DataFrame:
    if isinstance(candidates, (str, os.PathLike)) and not _looks_like_arch(candidates):
        df = read_candidates(candidates)
    elif isinstance(candidates, pd.DataFrame):
        if "arch" not in candidates.columns:
            raise SurrogateNASError(f"candidates DataFrame needs an 'arch' column; has {list(candidates.columns)}")
        df = candidates.copy()
    else:
        if isinstance(candidates, (str, Architecture)):
            candidates = [candidates]
        df = pd.DataFrame({"arch": list(candidates)})
    if predicted is not None:
        pred = list(predicted)
        if len(pred) != len(df):
            raise SurrogateNASError(f"predicted has {len(pred)} values for {len(df)} candidates")
        df["predicted"] = pred
    if df.empty:
        raise SurrogateNASError("no candidates to verify")
    archs = []
    for i, a in enumerate(df["arch"]):
        if a is None or (isinstance(a, float) and math.isnan(a)):
            raise InvalidArchitectureError(f"candidate {i + 1}: empty architecture")
        try:
            archs.append(space.format(space.coerce(a)))
        except ValueError as e:
            err = type(e) if isinstance(e, SurrogateNASError) else InvalidArchitectureError
            raise err(f"candidate {i + 1}: {_one_line(e)}") from None
    df["arch"] = archs
    return df.reset_index(drop=True)


def _looks_like_arch(s) -> bool:
    return isinstance(s, str) and s.strip().startswith("|")


def verify(
    candidates: Sequence[Architecture | str] | pd.DataFrame | str | os.PathLike,
    config: VerifyConfig | None = None,
    *,
    predicted: Sequence[float] | None = None,
    backend: Backend | None = None,
) -> pd.DataFrame:
    """Train every candidate (for each seed) and write the outputs described in the module doc.

    ``candidates``: architectures, a DataFrame with ``arch`` [+ ``predicted``], or a CSV path.
    Returns ``results.csv``'s frame; ``frame.attrs`` holds ``kendall_tau``, ``spearman`` (or None)
    and ``out_dir``. A failing candidate gets ``status="failed"`` and its ``error``; the others run.
    Raises SurrogateNASError before anything is trained or written on bad input: an unknown
    dataset, a missing data root, an architecture of another space, bad backend options, an
    ``out_dir`` that is a file or not writable, an ``append_to`` that is not a benchmark table of
    this space (or cannot be created).
    """
    config = (config or VerifyConfig()).validate()
    space = get_space(config.space)
    cands = _candidates(candidates, predicted, space)
    if config.top_k is not None:
        cands = _top_k(cands, config.top_k, candidates)
    backend = backend if backend is not None else get_backend(config.backend, **config.backend_options)
    if config.append_to:
        _check_append_to(Path(config.append_to), config.space)
    out = _output_dir(config)
    jobs, rows = [], []
    for i, arch in enumerate(cands["arch"]):
        for seed in config.seeds:
            cfg = config.train.replace(seed=int(seed))
            job = make_job(arch, config.dataset, cfg, out / "jobs", config.data_root, space=space.name)
            jobs.append(job)
            rows.append((i, seed, job.key))
    by_key = {r["key"]: r for r in backend.run(jobs)}
    shapes: dict = {}
    records = [
        _result_row(cands, i, seed, key, _as_measured(by_key[key], job, shapes))
        for (i, seed, key), job in zip(rows, jobs)
    ]
    res = pd.DataFrame(records, columns=list(RESULT_COLUMNS))
    tau, rho = _correlations(res)
    res.attrs.update({"kendall_tau": tau, "spearman": rho, "out_dir": str(out)})

    with atomic_path(out / "results.csv") as tmp:
        res.to_csv(tmp, index=False)
    atomic_write_text(out / "summary.md", _summary(res, config, tau, rho))
    _write_records(res, config, out)
    return res


def _output_dir(config: VerifyConfig) -> Path:
    """``config.out_dir``, checked writable and created, with the configuration in ``verify.yaml``."""
    out = check_writable(config.out_dir, "output directory", directory=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SurrogateNASError(f"cannot create output directory {str(out)!r}: {e.strerror or e}") from None
    atomic_write_text(out / "verify.yaml", _yaml(config.to_dict()))
    return out


def _result_row(cands: pd.DataFrame, i: int, seed, key: str, r: dict) -> dict:
    """``results.csv``'s row of candidate ``i`` trained with ``seed`` (job ``key``), from its measurement ``r``."""
    return {
        "arch": cands["arch"].iloc[i],
        "seed": seed,
        "status": r.get("status"),
        "error": r.get("error"),
        "predicted": cands["predicted"].iloc[i] if "predicted" in cands.columns else np.nan,
        "test_acc": r.get("test_acc"),
        "valid_acc": r.get("valid_acc"),
        "params_m": r["params"] / 1e6 if r.get("params") is not None else None,
        "flops_m": r["flops"] / 1e6 if r.get("flops") is not None else None,
        "train_seconds": r.get("train_seconds"),
        "wall_seconds": r.get("wall_seconds"),
        "images_per_second": r.get("images_per_second"),
        "epochs": r.get("epochs"),
        "device": r.get("device"),
        "attempts": r.get("attempts"),
        "key": key,
    }


def _correlations(res: pd.DataFrame) -> tuple[float | None, float | None]:
    ok = res[(res["status"] == "ok") & res["predicted"].notna()]
    if ok.empty:
        return None, None
    per_arch = ok.groupby("arch", sort=False).agg(predicted=("predicted", "first"), measured=("test_acc", "mean"))
    if len(per_arch) < 2 or per_arch["predicted"].nunique() < 2 or per_arch["measured"].nunique() < 2:
        return None, None
    from ..predictors.metrics import kendall_tau, spearman_rho

    return kendall_tau(per_arch["measured"], per_arch["predicted"]), spearman_rho(
        per_arch["measured"], per_arch["predicted"]
    )


def _summary(res: pd.DataFrame, config: VerifyConfig, tau, rho) -> str:
    t = config.train
    lines = [
        f"# Verification on {config.dataset}",
        "",
        f"{t.epochs} epochs, batch {t.batch_size}, lr {t.lr}, C={t.C}, N={t.N}, seeds {list(config.seeds)}, "
        f"backend {config.backend}.",
        "",
        "| arch | predicted | measured test acc (%) | seeds ok | params (M) | FLOPs (M) | train s | device | status |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for arch, g in res.groupby("arch", sort=False):
        ok = g[g["status"] == "ok"]
        pred = g["predicted"].iloc[0]
        meas = (
            f"{ok['test_acc'].mean():.2f}" + (f" ± {ok['test_acc'].std():.2f}" if len(ok) > 1 else "")
            if len(ok)
            else "-"
        )
        status = "ok" if len(ok) == len(g) else "; ".join(str(e) for e in g.loc[g["status"] != "ok", "error"])
        pred_s = "-" if pd.isna(pred) else f"{pred:.4g}"
        params = _fmt(ok["params_m"].mean() if len(ok) else None, 4)
        flops = _fmt(ok["flops_m"].mean() if len(ok) else None, 2)
        seconds = _fmt(ok["train_seconds"].mean() if len(ok) else None, 1)
        dev = g["device"].dropna().iloc[0] if g["device"].notna().any() else "-"
        lines.append(
            f"| {arch.replace('|', chr(92) + '|')} | {pred_s} | {meas} | {len(ok)}/{len(g)} | "
            f"{params} | {flops} | {seconds} | {dev} | {status.replace('|', '/')} |"
        )
    lines += ["", f"Kendall tau (predicted vs measured): {_fmt(tau, 3)}; Spearman rho: {_fmt(rho, 3)}", ""]
    return "\n".join(lines)


def _fmt(x, digits) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _records_frame(res: pd.DataFrame, dataset: str) -> pd.DataFrame:
    ok = res[res["status"] == "ok"]
    parts = [
        pd.DataFrame(
            {
                "arch": ok["arch"],
                "task": dataset,
                "metric": metric,
                "value": ok[col].astype(float),
                "seed": ok["seed"].astype(int),
                "fidelity": ok["epochs"].astype(float),
            }
        )
        for metric, col in RECORD_METRICS.items()
    ]
    # a timing not measured on this string's own network (its class was trained as an isomorphic string) is
    # no record of it
    return pd.concat(parts, ignore_index=True).dropna(subset=["value"]).reset_index(drop=True)


def _as_measured(r: dict[str, Any], job, shapes: dict) -> dict[str, Any]:
    """Result ``r`` as a measurement of ``job.arch``.

    Trainings are cached per canonical class (the accuracy is what the cell computes: isomorphic strings are
    one function, trained once). Hardware numbers belong to the string (a string is a network): when the class
    was trained as another, isomorphic string, ``job.arch``'s own ``params``/``flops`` are counted on its own
    network, and the timings (``train_seconds``, ``images_per_second``), measured on the other network, are
    dropped (None). ``shapes`` caches each dataset's (classes, channels, image shape) across calls.
    """
    trained = r.get("arch")
    if r.get("status") != "ok" or trained is None or trained == job.arch:
        return r
    from ..networks import build_network, count_flops, count_parameters

    if job.dataset not in shapes:
        from .data import load_dataset

        data = load_dataset(job.dataset, job.data_root)
        shapes[job.dataset] = (data.num_classes, data.in_channels, data.image_shape)
    classes, channels, shape = shapes[job.dataset]
    net = build_network(job.arch, classes, C=job.config.C, N=job.config.N, in_channels=channels)
    return {
        **r,
        "arch": job.arch,
        "trained_as": trained,
        "params": count_parameters(net),
        "flops": count_flops(net, shape),
        "train_seconds": None,
        "images_per_second": None,
    }


def _check_append_to(target: Path, space: str) -> None:
    """An existing ``append_to`` must be a benchmark table of ``space``; a new one must be creatable."""
    if target.is_dir():
        raise DataError(f"--append-to {str(target)!r} is a directory; give a .parquet file")
    if target.exists():
        base = BenchmarkTable.read_parquet(target)
        if base.space.name != space:
            raise DataError(f"--append-to {str(target)!r} holds records of space {base.space.name!r}, not {space!r}")
        return
    if target.suffix != ".parquet":
        raise DataError(f"--append-to {str(target)!r}: a new table is written as parquet; name it *.parquet")
    check_writable(target, "--append-to table")


def _write_records(res: pd.DataFrame, config: VerifyConfig, out: Path) -> None:
    df = _records_frame(res, config.dataset)
    if df.empty:
        return
    table = BenchmarkTable.from_records(config.space, df, source=config.source)
    table.to_parquet(out / "records.parquet")
    if config.append_to:
        target = Path(config.append_to)
        if target.exists():
            base = BenchmarkTable.read_parquet(target)
            # re-verifying the same (arch, seed, epochs) replaces the older measurement
            ident = ["key", "task", "metric", "seed", "fidelity"]
            merged = pd.concat([base.frame, table.frame], ignore_index=True)
            merged = merged.drop_duplicates(ident, keep="last")
            table = BenchmarkTable(base.space, merged, base.source)
        table.to_parquet(target)


def _yaml(d: dict) -> str:
    try:
        import yaml

        return yaml.safe_dump(d, sort_keys=False)
    except ImportError:  # pragma: no cover
        return json.dumps(d, indent=2)


class TrainingEvaluator:
    """Real-training evaluator for search loops: ``evaluate(archs)`` trains each candidate.

    Returns one dict per architecture, in order: ``value`` (the measured ``metric``, NaN when
    failed), ``test`` (the test accuracy of the same run), ``cost_seconds`` (wall time of that training),
    ``status`` ("ok"/"failed"), ``error``, plus ``params``/``flops`` (M) and ``key``. ``epochs`` trains for that
    many epochs instead of the config's (a full cosine schedule of that length: a cheap fidelity). Results are
    cached on disk under ``work_dir`` by
    canonical key, so an architecture evaluated twice (or an isomorphic one) trains once; ``params``/``flops``
    are always the string's own network's (an isomorphic string is another network).
    Use ``metric="valid_acc"`` with ``train_config.valid_fraction > 0`` to keep the test split
    out of the search. ``session()``: a context for a whole search (one Ray instance on the ``ray`` backend,
    unless one is already running; nothing for ``local``).
    """

    name = "train"

    def __init__(
        self,
        dataset: str,
        data_root: str | os.PathLike | None = None,
        train_config: TrainConfig | None = None,
        backend: str | Backend = "local",
        work_dir: str | os.PathLike = "runs/train-evals",
        space: str = "nb201",
        metric: str = "test_acc",
        backend_options: dict[str, Any] | None = None,
    ):
        self.dataset = dataset
        self.data_root = data_root
        self.train_config = train_config
        self.backend = backend
        self.work_dir = work_dir
        self.space = space
        self.metric = metric
        self.backend_options = backend_options

    def session(self):
        """One Ray instance for every ``evaluate`` inside it (the ``ray`` backend); a no-op otherwise."""
        import contextlib

        if not (self.backend == "ray" or isinstance(self.backend, RayBackend)):
            return contextlib.nullcontext()
        from ..raycluster import session

        address = self.backend.address if isinstance(self.backend, RayBackend) else None
        address = (self.backend_options or {}).get("address", address)
        return session(address, what="backend 'ray'")

    def evaluate(self, archs: Sequence[Architecture | str], epochs: int | None = None) -> list[dict[str, Any]]:
        if self.metric not in ("test_acc", "valid_acc"):
            raise SurrogateNASError(f"TrainingEvaluator: metric must be 'test_acc' or 'valid_acc', got {self.metric!r}")
        cfg = (self.train_config or TrainConfig()).validate()
        if epochs is not None:
            cfg = cfg.replace(epochs=epochs)
        if self.metric == "valid_acc" and cfg.valid_fraction <= 0:
            raise SurrogateNASError("TrainingEvaluator: metric 'valid_acc' needs train_config.valid_fraction > 0")
        dataset = check_dataset(self.dataset, self.data_root)
        space = get_space(self.space)
        jobs = [make_job(a, dataset, cfg, self.work_dir, self.data_root, space=space.name) for a in archs]
        backend = get_backend(self.backend, **(self.backend_options or {}))
        by_key = {r["key"]: r for r in backend.run(jobs)}
        out: list[dict] = []
        shapes: dict = {}
        for j in jobs:
            r = _as_measured(by_key[j.key], j, shapes)
            ok = r.get("status") == "ok"
            value = r.get(self.metric) if ok else None
            out.append(
                {
                    "value": float(value) if value is not None else float("nan"),
                    "test": float(r["test_acc"]) if ok else float("nan"),
                    "cost_seconds": float(r.get("wall_seconds") or 0.0),
                    "status": r.get("status"),
                    "error": r.get("error"),
                    "params": r["params"] / 1e6 if ok else None,
                    "flops": r["flops"] / 1e6 if ok else None,
                    "key": j.key,
                }
            )
        return out

    __call__ = evaluate

    def __repr__(self) -> str:
        return f"TrainingEvaluator(dataset={self.dataset!r}, backend={self.backend!r}, metric={self.metric!r})"
