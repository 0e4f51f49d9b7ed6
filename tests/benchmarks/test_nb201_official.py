"""The official NAS-Bench-201 file reader, on tiny files built with the API's own classes.

The real ``NAS-Bench-201-v1_*.pth`` (GBs) is not available offline; these files have the same
layout: ``{'meta_archs', 'arch2infos': {i: {'less': ArchResults.state_dict(), 'full': ...}},
'evaluated_indexes'}`` with ``ResultsCount`` trials filled through ``update_train_info`` /
``update_eval`` / ``update_latency``, so the official ``NASBench201API`` interprets them exactly as
it would the real file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from nas_201_api.api_utils import ArchResults, ResultsCount

from surrogate_nas.benchmarks import READERS, BenchmarkTable, load_benchmark
from surrogate_nas.benchmarks.nb201_official import read_official
from surrogate_nas.errors import DataError
from surrogate_nas.spaces import get_space

space = get_space("nb201")

META_ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|none~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_3x3~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # in meta_archs but never evaluated
]
EVALUATED = (0, 1, 2)
#: Evaluation sets each dataset has in the official file.
EVAL_SETS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
ALL = tuple(EVAL_SETS)
EPOCHS = {"full": 4, "less": 2}  # tiny stand-ins for 200 / 12 epochs (fidelity comes from hp)


def _datasets(index: int, kind: str) -> tuple[str, ...]:
    if kind == "less":
        return ("cifar10-valid",)  # like v1_0: 12-epoch results only on cifar10-valid
    return ALL if index != 2 else ("cifar10-valid", "cifar10")


def _seeds(index: int, dataset: str) -> tuple[int, ...]:
    return (777, 888) if (index == 0 and dataset == "cifar100") else (777,)


def _acc(index: int, kind: str, dataset: str, evalset: str, seed: int) -> float:
    return 40.0 + 10 * index + ALL.index(dataset) + 0.5 * len(evalset) + (seed - 777) / 100 + (kind == "less")


def _params(index: int, dataset: str) -> float:
    return 0.1 * (index + 1) + 0.01 * ALL.index(dataset)


def _flops(index: int, dataset: str) -> float:
    return 10.0 * (index + 1) + ALL.index(dataset)


def _latency(index: int, dataset: str, seed: int) -> float | None:
    return None if index == 1 else 0.01 * (index + 1) + 0.001 * ALL.index(dataset) + (seed - 777) / 1e5


def _trial(index: int, kind: str, dataset: str, seed: int, num=float) -> ResultsCount:
    epochs = EPOCHS[kind]
    lat = _latency(index, dataset, seed)
    rc = ResultsCount(
        dataset, None,
        {e: num(10.0 + e) for e in range(epochs)}, {e: num(2.0 - 0.1 * e) for e in range(epochs)},
        num(_params(index, dataset)), num(_flops(index, dataset)),
        {"name": "infer.tiny", "channel": 16, "num_cells": 5, "arch_str": META_ARCHS[index], "class_num": 10},
        seed, epochs, None,
    )
    rc.update_train_info(
        {e: num(10.0 + e) for e in range(epochs)}, {e: num(50.0 + e) for e in range(epochs)},
        {e: num(2.0 - 0.1 * e) for e in range(epochs)}, {e: num(3.5) for e in range(epochs)},
    )
    accs, losses, times = {}, {}, {}
    for s in EVAL_SETS[dataset]:
        for e in range(epochs):
            last = e == epochs - 1
            accs[f"{s}@{e}"] = num(_acc(index, kind, dataset, s, seed) if last else 5.0 + e)
            losses[f"{s}@{e}"] = num(1.0 / (e + 1))
            times[f"{s}@{e}"] = num(0.25)
    rc.update_eval(accs, losses, times)
    if lat is not None:
        rc.update_latency([num(lat)])
    return rc


def build_official(num=float, arch2infos_override=None) -> dict:
    """A 4-arch, 3-evaluated NAS-Bench-201 dict in the official layout."""
    arch2infos = {}
    for index in EVALUATED:
        entry = {}
        for kind in ("less", "full"):
            ar = ArchResults(index, META_ARCHS[index])
            for dataset in _datasets(index, kind):
                for seed in _seeds(index, dataset):
                    ar.update(dataset, seed, _trial(index, kind, dataset, seed, num))
            entry[kind] = ar.state_dict()
        arch2infos[index] = entry
    if arch2infos_override:
        arch2infos.update(arch2infos_override)
    return {"meta_archs": list(META_ARCHS), "arch2infos": arch2infos, "evaluated_indexes": list(EVALUATED)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("nb201") / "tiny.pth"
    torch.save(build_official(), p)
    return p


def _expected(hp: str) -> dict[tuple[str, str, str], float]:
    """(arch, task, metric) -> value, computed independently of the API."""
    kind = "full" if hp == "200" else "less"
    out = {}
    for index in EVALUATED:
        arch = META_ARCHS[index]
        for dataset in _datasets(index, kind):
            seeds = _seeds(index, dataset)
            valid = {"cifar10-valid": "x-valid", "cifar100": "x-valid", "ImageNet16-120": "x-valid"}.get(dataset)
            test = {"cifar10-valid": "ori-test", "cifar10": "ori-test"}.get(dataset, "x-test")
            if valid:
                out[arch, dataset, "valid_acc"] = np.mean([_acc(index, kind, dataset, valid, s) for s in seeds])
            out[arch, dataset, "test_acc"] = np.mean([_acc(index, kind, dataset, test, s) for s in seeds])
            out[arch, dataset, "params"] = _params(index, dataset)
            out[arch, dataset, "flops"] = _flops(index, dataset)
            lats = [_latency(index, dataset, s) for s in seeds]
            if lats[0] is not None:
                out[arch, dataset, "latency"] = np.mean(lats)
    return out


def _as_dict(table: BenchmarkTable) -> dict[tuple[str, str, str], float]:
    f = table.frame
    return {(a, t, m): v for a, t, m, v in zip(f["arch"], f["task"], f["metric"], f["value"])}


# ---------------------------------------------------------------------- values
def test_reads_back_every_value_put_in(tiny):
    table = read_official(tiny)
    assert isinstance(table, BenchmarkTable) and table.space.name == "nb201"
    got, want = _as_dict(table), _expected("200")
    assert len(table) == len(got) == len(want) == 43
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-12, abs=1e-12), k
    assert table.tasks == sorted(ALL)
    assert set(table.frame["fidelity"]) == {200.0} and table.frame["seed"].isna().all()
    assert table.source == str(tiny)


def test_splits_skips_and_keys(tiny):
    table = read_official(tiny)
    f = table.frame
    # cifar10 has no validation split: no valid_acc invented; the others have one
    assert "valid_acc" not in table.metrics("cifar10")
    assert table.metrics("cifar100") == ["flops", "latency", "params", "test_acc", "valid_acc"]
    # arch 1 has no latency measurement -> no latency records for it; the unevaluated arch 3 is absent
    assert f[(f["arch"] == META_ARCHS[1]) & (f["metric"] == "latency")].empty
    assert META_ARCHS[3] not in set(f["arch"])
    # arch 2 has results on cifar10-valid and cifar10 only
    assert set(f[f["arch"] == META_ARCHS[2]]["task"]) == {"cifar10-valid", "cifar10"}
    # seeds are averaged (arch 0, cifar100: seeds 777 and 888)
    v = table.vector("cifar100", "test_acc", [space.parse(META_ARCHS[0])])[0]
    assert v == pytest.approx((_acc(0, "full", "cifar100", "x-test", 777) + _acc(0, "full", "cifar100", "x-test", 888)) / 2)
    for arch, key in zip(f["arch"], f["key"]):
        assert key == space.canonical(space.parse(arch))


def test_hp_12_and_registry(tiny):
    table = READERS.get("nb201-official", path=tiny, hp=12)
    assert table.tasks == ["cifar10-valid"]
    assert set(table.frame["fidelity"]) == {12.0}
    got, want = _as_dict(table), _expected("12")
    assert got.keys() == want.keys()
    assert all(got[k] == pytest.approx(v) for k, v in want.items())
    assert len(load_benchmark("nb201-official", path=str(tiny))) == 43


@pytest.mark.parametrize("hp", ["90", "full", None])
def test_unknown_hp(tiny, hp):
    with pytest.raises(DataError, match="hp"):
        read_official(tiny, hp=hp)


def test_numpy_scalars_are_read(tmp_path):
    """Old training code stored numbers as numpy scalars; these (and only these) are allowlisted."""
    p = tmp_path / "np.pth"
    torch.save(build_official(num=np.float64), p)
    assert _as_dict(read_official(p)) == pytest.approx(_as_dict(read_official_from(build_official(), tmp_path)))


def read_official_from(data: dict, tmp_path: Path) -> BenchmarkTable:
    p = tmp_path / "plain.pth"
    torch.save(data, p)
    return read_official(p)


def test_legacy_format_with_numpy1_scalar_names(tmp_path):
    """A pre-1.6 (non-zip) torch file whose numpy scalars carry numpy 1.x's module path."""
    p = tmp_path / "legacy.pth"
    torch.save(build_official(num=np.float32), p, _use_new_zipfile_serialization=False)
    raw = p.read_bytes()
    # torch.save uses pickle protocol 2: globals are "module\nname\n" text, so renaming is safe
    raw = raw.replace(b"numpy._core.multiarray\nscalar", b"numpy.core.multiarray\nscalar")
    assert b"numpy.core.multiarray\nscalar" in raw
    p.write_bytes(raw)
    got = _as_dict(read_official(p))
    want = _expected("200")
    assert got.keys() == want.keys()
    assert all(got[k] == pytest.approx(v, rel=1e-6) for k, v in want.items())


# ---------------------------------------------------------------------- bad files
def test_missing_file(tmp_path):
    p = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    with pytest.raises(DataError, match="does not exist") as e:
        read_official(p)
    assert str(p) in str(e.value)
    with pytest.raises(DataError, match="not a regular file"):
        read_official(tmp_path)


@pytest.mark.parametrize("legacy", [False, True])
def test_truncated_file(tiny, tmp_path, legacy):
    src = tiny
    if legacy:
        src = tmp_path / "legacy.pth"
        torch.save(build_official(), src, _use_new_zipfile_serialization=False)
    raw = src.read_bytes()
    for n in (0, 1, 64, len(raw) // 2, len(raw) - 1):
        p = tmp_path / f"cut{n}.pth"
        p.write_bytes(raw[:n])
        with pytest.raises(DataError) as e:
            read_official(p)
        assert str(p) in str(e.value)
        assert "truncated" in str(e.value), str(e.value)


def test_garbage_file(tmp_path):
    p = tmp_path / "x.pth"
    p.write_text("ArchitectureString,UniqueString\n")
    with pytest.raises(DataError, match="truncated or corrupt") as e:
        read_official(p)
    assert str(p) in str(e.value)


@pytest.mark.parametrize(
    "data, match",
    [
        ([1, 2, 3], "holds a list"),
        ({"meta_archs": META_ARCHS, "evaluated_indexes": []}, "missing key.*arch2infos"),
        ({"state_dict": {}}, "missing key.*meta_archs, arch2infos, evaluated_indexes"),
        ({"meta_archs": "abc", "arch2infos": {}, "evaluated_indexes": []}, "meta_archs"),
        ({"meta_archs": META_ARCHS, "arch2infos": [], "evaluated_indexes": []}, "arch2infos"),
        ({"meta_archs": META_ARCHS, "arch2infos": {9: {}}, "evaluated_indexes": []}, "key 9 is not an index"),
        ({"meta_archs": META_ARCHS, "arch2infos": {0: {"less": {}}}, "evaluated_indexes": []}, "'less' and 'full'"),
        ({"meta_archs": META_ARCHS, "arch2infos": {0: {"less": {}, "full": {}}}, "evaluated_indexes": []},
         "not an ArchResults state dict"),
        ({"meta_archs": META_ARCHS, "arch2infos": {}, "evaluated_indexes": []}, "no records"),
    ],
)
def test_wrong_structure(tmp_path, data, match):
    p = tmp_path / "wrong.pth"
    torch.save(data, p)
    with pytest.raises(DataError, match=match) as e:
        read_official(p)
    assert str(p) in str(e.value)


def test_inconsistent_records(tmp_path):
    bad_arch = build_official()
    bad_arch["meta_archs"][0] = "|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    swapped = build_official()
    swapped["arch2infos"][0], swapped["arch2infos"][1] = swapped["arch2infos"][1], swapped["arch2infos"][0]
    broken = build_official()
    del broken["arch2infos"][2]["full"]["all_results"][("cifar10", 777)]  # seed listed, trial missing
    for data, match in [(bad_arch, r"meta_archs\[0\].*conv_7x7"), (swapped, r"arch2infos\[0\].*meta_archs\[0\]"),
                        (broken, "architecture 2 .* on cifar10, hp=200")]:
        p = tmp_path / "bad.pth"
        torch.save(data, p)
        with pytest.raises(DataError, match=match):
            read_official(p)


# ---------------------------------------------------------------------- unpickling is refused
def _plant(path):  # what a malicious file would run on load
    Path(path).write_text("code ran")
    return {}


class Payload:
    """Pickles to a call of ``_plant``: loading it with the full unpickler writes a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (_plant, (self.path,))


class Record:
    """A plain custom class; its ``__setstate__`` would run on unpickling."""

    def __init__(self, path):
        self.path = str(path)

    def __setstate__(self, state):
        Path(state["path"]).write_text("code ran")
        self.__dict__.update(state)


@pytest.mark.parametrize("cls, name", [(Payload, "_plant"), (Record, "Record")])
def test_arbitrary_object_is_refused_not_executed(tmp_path, cls, name):
    canary = tmp_path / "canary.txt"
    data = build_official()
    data["arch2infos"][0]["full"]["all_results"][("cifar10", 777)] = cls(canary)
    p = tmp_path / "evil.pth"
    torch.save(data, p)
    with pytest.raises(DataError, match="refuse") as e:
        read_official(p)
    msg = str(e.value)
    assert str(p) in msg and name in msg and "unpickle arbitrary objects" in msg
    assert not canary.exists()
    # the payload is real: the unsafe loader the reader avoids would have run it
    torch.load(p, weights_only=False)
    assert canary.read_text() == "code ran"


def test_api_objects_instead_of_state_dicts_are_refused(tmp_path):
    """Pickled ArchResults *objects* (not state dicts) are classes too: refused, named."""
    data = build_official()
    ar = ArchResults.create_from_state_dict(data["arch2infos"][0]["full"])
    data["arch2infos"][0] = {"less": ar, "full": ar}
    p = tmp_path / "objects.pth"
    torch.save(data, p)
    with pytest.raises(DataError, match="ArchResults"):
        read_official(p)


def test_numpy_arrays_stay_refused(tmp_path):
    data = build_official()
    data["arch2infos"][0]["full"]["all_results"][("cifar10", 777)]["train_times"] = np.ones(4)
    p = tmp_path / "arr.pth"
    torch.save(data, p)
    with pytest.raises(DataError, match="refuse"):
        read_official(p)
