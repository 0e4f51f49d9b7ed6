"""Reader for the official NAS-Bench-201 benchmark file (``NAS-Bench-201-v1_[01]-*.pth``).

The file is a dict saved with ``torch.save`` with keys ``meta_archs`` (architecture strings),
``arch2infos`` (index -> ``{'less': ArchResults state dict, 'full': ArchResults state dict}``)
and ``evaluated_indexes``. It is loaded here with ``torch.load(..., weights_only=True)`` -- never
with the full unpickler, which would run whatever code the file names -- and the resulting plain
dict is handed to the official ``nas_201_api.NASBench201API``, whose own classes interpret it.

Records per architecture and dataset (``cifar10-valid``, ``cifar10``, ``cifar100``,
``ImageNet16-120``), all at fidelity = the training-epochs setting (``hp`` 200 or 12):

* ``valid_acc`` / ``test_acc`` -- ``get_more_info(index, dataset, hp=hp, is_random=False)``'s
  ``valid-accuracy`` / ``test-accuracy`` after the last epoch, averaged over the trained seeds.
  Which split each one is follows the API: cifar10-valid valid = ``x-valid``, test = ``ori-test``;
  cifar10 has no validation split (only test = ``ori-test``, so no ``valid_acc`` record);
  cifar100 / ImageNet16-120 valid = ``x-valid``, test = ``x-test``.
* ``params`` (MB, i.e. millions), ``flops`` (M) and ``latency`` (seconds, batch 256) -- the
  API's ``get_compute_costs`` (what ``get_cost_info`` returns), mean over seeds.

A metric the API reports as missing/``None`` (e.g. no latency measured) is skipped, never invented.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, first_line
from ..spaces import get_space
from .table import BenchmarkTable

#: Task names (the API's dataset names) in output order.
DATASETS = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
#: Our metric name -> key in ``get_more_info``'s result.
ACCURACY_KEYS = {"valid_acc": "valid-accuracy", "test_acc": "test-accuracy"}
#: Our metric name -> key in ``get_compute_costs`` / ``get_cost_info``'s result.
COST_KEYS = {"params": "params", "flops": "flops", "latency": "latency"}
#: The two hyper-parameter settings of NAS-Bench-201 (training epochs).
HPS = ("200", "12")
TOP_KEYS = ("meta_archs", "arch2infos", "evaluated_indexes")


# ---------------------------------------------------------------------- safe loading
def _numpy_scalar_globals() -> list:
    """Globals needed to rebuild *numpy scalars* (``np.float64(0.43)``), and nothing more.

    Old training code stored e.g. parameter counts as numpy scalars, pickled as
    ``numpy.core.multiarray.scalar(dtype, raw_bytes)``. Rebuilding one only decodes the bytes of a
    fixed-size numeric dtype; no user code runs. Numpy *arrays* (``_reconstruct``/``ndarray``),
    object/void/string dtypes and every other class stay refused.
    """
    try:
        from numpy._core.multiarray import scalar  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    allowed: list = [
        (scalar, "numpy.core.multiarray.scalar"),  # name written by numpy 1.x
        (scalar, "numpy._core.multiarray.scalar"),  # name written by numpy 2.x
        np.dtype,
    ]
    # numeric dtypes' classes (numpy.dtypes.Float64DType, ...) so their pickled state can be set
    allowed += sorted({type(np.dtype(c)) for c in "?bBhHiIlLqQefd"}, key=lambda t: t.__name__)
    return allowed


def _allow_numpy_scalars():
    import torch.serialization as ts

    if not hasattr(ts, "safe_globals"):  # torch < 2.5: numpy scalars are simply refused
        return contextlib.nullcontext()
    return ts.safe_globals(_numpy_scalar_globals())


_REFUSED = (
    re.compile(r"GLOBAL (\S+) was not an allowed global"),
    re.compile(r"unsupported GLOBAL (\S+)"),
    re.compile(r"but got <class '([^']+)'>"),
)


def _refused_name(message: str) -> str | None:
    """The global/class a weights-only load refused, or None if the failure was not a refusal."""
    for pattern in _REFUSED:
        m = pattern.search(message)
        if m:
            return m.group(1).rstrip(".,")
    if "Weights only load failed" in message and ("blocked" in message or "Can only build" in message):
        return "an object outside the allowlist"
    return None


def load_official(path: str | os.PathLike) -> dict:
    """The benchmark file as a plain dict, loaded with ``torch.load(weights_only=True)``.

    Raises :class:`DataError` (naming the file) when it is missing, unreadable, truncated/corrupt,
    holds objects the safe loader refuses, or lacks the NAS-Bench-201 top-level keys.
    """
    import torch

    p = Path(path)
    if not p.exists():
        raise DataError(f"NAS-Bench-201 file {str(p)!r} does not exist")
    if not p.is_file():
        raise DataError(f"NAS-Bench-201 file {str(p)!r} is not a regular file")
    if p.stat().st_size == 0:
        raise DataError(f"NAS-Bench-201 file {str(p)!r} is empty (truncated download?)")
    try:
        with _allow_numpy_scalars():
            data = torch.load(p, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except pickle.UnpicklingError as e:
        name = _refused_name(str(e))
        if name is not None:
            raise DataError(
                f"{p}: refused to load: the file contains {name!r}, which is not plain data (tensors, "
                f"numbers, strings, lists, dicts, numpy scalars). surrogate_nas loads benchmark files with "
                f"torch.load(weights_only=True) and refuses to unpickle arbitrary objects, since unpickling "
                f"can run code from the file. Use an official, unmodified NAS-Bench-201 file."
            ) from None
        raise DataError(f"{p}: not a readable torch file (truncated or corrupt?): {first_line(e)}") from None
    except Exception as e:  # EOFError, zip errors (RuntimeError), bad magic (KeyError), OSError, ...
        raise DataError(
            f"{p}: not a readable torch file (truncated or corrupt?): {type(e).__name__}: {first_line(e)}"
        ) from None
    if not isinstance(data, dict):
        raise DataError(
            f"{p}: not a NAS-Bench-201 file: holds a {type(data).__name__}, expected a dict with keys "
            f"{', '.join(TOP_KEYS)}"
        )
    missing = [k for k in TOP_KEYS if k not in data]
    if missing:
        have = ", ".join(map(repr, list(data)[:8])) or "none"
        raise DataError(f"{p}: not a NAS-Bench-201 file: missing key(s) {', '.join(missing)} (keys present: {have})")
    return data


# ---------------------------------------------------------------------- reader
def read_official(path: str | os.PathLike, hp: str = "200") -> BenchmarkTable:
    """Records of the official NAS-Bench-201 file at ``path`` for ``hp`` = ``"200"`` or ``"12"`` epochs.

    Tasks: cifar10-valid, cifar10, cifar100, ImageNet16-120 (those the file has for ``hp``; the v1_0
    file's 12-epoch results cover cifar10-valid only). Metrics: valid_acc, test_acc (%, mean over
    seeds), params (M), flops (M), latency (s); ``fidelity`` = ``hp`` as a float, ``seed`` unset.
    """
    hp = _check_hp(hp)
    p = Path(path)
    data = load_official(p)
    meta_archs = _check_structure(data, p)
    api = _official_api(data, p)
    del data  # the API holds its own (deep) copy

    space = get_space("nb201")
    columns: dict[str, list] = {c: [] for c in ("arch", "key", "task", "metric", "value")}
    skipped = 0
    for index in sorted(api.arch2infos_dict):
        native, key = _cell(space, meta_archs, index, p)
        for task, metric, value in _arch_values(api, index, meta_archs[index], hp, p):
            v = _number(value)
            if v is None:
                skipped += value is not None  # present but NaN/inf/not a number
                continue
            for column, x in zip(columns.values(), (native, key, task, metric, v)):
                column.append(x)
    if skipped:
        warnings.warn(f"{p}: skipped {skipped} non-finite or non-numeric value(s)", stacklevel=2)
    if not columns["value"]:
        raise DataError(f"{p}: no records for hp={hp} on any of {', '.join(DATASETS)}")
    frame = pd.DataFrame(columns)
    frame["fidelity"] = float(hp)
    return BenchmarkTable(space, frame, source=str(p))


def _official_api(data: dict, p: Path):
    """The official ``NASBench201API`` over the loaded dict; a dict it cannot read is one :class:`DataError`."""
    from nas_201_api import NASBench201API

    try:
        return NASBench201API(data, verbose=False)
    except Exception as e:  # the API asserts / indexes its way through the dict
        raise DataError(
            f"{p}: nas_201_api could not read the file's records ({type(e).__name__}: {first_line(e)})"
        ) from None


def _cell(space, meta_archs: list[str], index: int, p: Path) -> tuple[str, str]:
    """(native string, canonical key) of architecture ``index`` of the file."""
    try:
        arch = space.parse(meta_archs[index])
    except ValueError as e:
        raise DataError(f"{p}: meta_archs[{index}] is not a NAS-Bench-201 cell: {e}") from None
    return space.format(arch), space.canonical(arch)


def _arch_values(api, index: int, arch_str: str, hp: str, p: Path) -> list[tuple[str, str, Any]]:
    """(task, metric, value as the API reports it) of every metric of architecture ``index`` on every dataset the
    file has for ``hp``; the file's results must be for ``arch_str``."""
    results = api.arch2infos_dict[index][hp]
    if results.arch_str != arch_str:
        raise DataError(
            f"{p}: arch2infos[{index}] (hp={hp}) is for {results.arch_str!r} but meta_archs[{index}] is {arch_str!r}"
        )
    have = set(results.get_dataset_names())
    out = []
    for task in (t for t in DATASETS if t in have):
        try:
            info = api.get_more_info(index, task, hp=hp, is_random=False)
            costs = results.get_compute_costs(task)
        except Exception as e:
            raise DataError(
                f"{p}: malformed records for architecture {index} ({arch_str}) on {task}, hp={hp}: "
                f"{type(e).__name__}: {first_line(e)}"
            ) from None
        out += [(task, m, info.get(k)) for m, k in ACCURACY_KEYS.items()]
        out += [(task, m, costs.get(k)) for m, k in COST_KEYS.items()]
    return out


def _check_hp(hp: Any) -> str:
    s = str(hp).strip()
    if s not in HPS:
        raise DataError(f"nb201-official: unknown hp {hp!r}; NAS-Bench-201 has hp '200' or '12' (training epochs)")
    return s


def _check_structure(data: dict, p: Path) -> list[str]:
    """Cheap shape checks the API would otherwise fail on with bare asserts (gone under ``python -O``)."""
    meta = data["meta_archs"]
    if not isinstance(meta, (list, tuple)) or not all(isinstance(s, str) for s in meta):
        raise DataError(f"{p}: 'meta_archs' must be a list of architecture strings, got {type(meta).__name__}")
    infos = data["arch2infos"]
    if not isinstance(infos, dict):
        raise DataError(f"{p}: 'arch2infos' must be a dict index -> results, got {type(infos).__name__}")
    for index, entry in infos.items():
        if not isinstance(index, int) or not 0 <= index < len(meta):
            raise DataError(f"{p}: arch2infos key {index!r} is not an index into meta_archs (0..{len(meta) - 1})")
        if not isinstance(entry, dict) or not {"less", "full"} <= set(entry):
            got = sorted(map(str, entry)) if isinstance(entry, dict) else type(entry).__name__
            raise DataError(f"{p}: arch2infos[{index}] must be a dict with keys 'less' and 'full', got {got}")
        for hp_key in ("less", "full"):
            if not isinstance(entry[hp_key], dict) or "all_results" not in entry[hp_key]:
                raise DataError(f"{p}: arch2infos[{index}][{hp_key!r}] is not an ArchResults state dict")
    if not isinstance(data["evaluated_indexes"], (list, tuple, set)):
        raise DataError(f"{p}: 'evaluated_indexes' must be a list, got {type(data['evaluated_indexes']).__name__}")
    return list(meta)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, (bool, str)):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
