"""``surrogate-nas verify`` on bad input: one ``surrogate-nas: error:`` line naming the bad value,
exit status 2, refused before any training, nothing written."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from surrogate_nas.benchmarks.table import BenchmarkTable
from surrogate_nas.cli import main

from .conftest import ARCH_A, ARCH_B


@pytest.fixture
def archs_csv(tmp_path):
    p = tmp_path / "top.csv"
    pd.DataFrame({"arch": [ARCH_A, ARCH_B]}).to_csv(p, index=False)
    return p


def _refused(capsys, argv, *needles):
    rc = main(["verify", *map(str, argv)])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("surrogate-nas: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]




def test_out_that_is_an_existing_file_or_unwritable_is_refused_before_training(tmp_path, capsys, archs_csv, unwritable_dir):
    base = ["--archs", archs_csv, "--dataset", "digits", "--epochs", "1"]
    existing = tmp_path / "results.txt"
    existing.write_text("keep me\n")
    _refused(capsys, [*base, "--out", existing], str(existing), "is an existing file, not a directory")
    assert existing.read_text() == "keep me\n"
    _refused(capsys, [*base, "--out", existing / "sub"], str(existing), "not a directory")
    ro = unwritable_dir
    _refused(capsys, [*base, "--out", ro / "verify-out"], str(ro / "verify-out"), "cannot write")
    assert not (ro / "verify-out").exists()


def test_bad_candidates_files(tmp_path, capsys):
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    no_arch = tmp_path / "no-arch.csv"
    no_arch.write_text("architecture,predicted\n" + ARCH_A + ",0.9\n")
    header_only = tmp_path / "header.csv"
    header_only.write_text("arch,predicted\n")
    malformed = tmp_path / "malformed.csv"
    malformed.write_text('arch\n"' + ARCH_A + "\n")
    bad_pred = tmp_path / "fast.csv"
    pd.DataFrame({"arch": [ARCH_A], "predicted": ["fast"]}).to_csv(bad_pred, index=False)
    blank = tmp_path / "blank.csv"
    blank.write_text(f"arch,predicted\n{ARCH_A},0.9\n,0.5\n")
    other_space = tmp_path / "nbg.csv"
    other_space.write_text("arch\n0012:gcn-gat-skip-sage\n")
    out = tmp_path / "out"
    for path, needles in [
        (binary, [str(binary), "cannot read candidates CSV"]),
        (no_arch, [str(no_arch), "needs a column 'arch'", "'architecture'"]),
        (header_only, [str(header_only), "no candidate rows"]),
        (malformed, [str(malformed), "cannot read candidates CSV"]),
        (bad_pred, [str(bad_pred), "'predicted' is not numeric", "fast"]),
        (blank, ["candidate 2: empty architecture"]),  # counted from 1, as the rows of the file
        (other_space, ["candidate 1", "0012:gcn-gat-skip-sage"]),
        (tmp_path, [str(tmp_path), "is a directory"]),
        (tmp_path / "missing.csv", [str(tmp_path / "missing.csv"), "does not exist"]),
    ]:
        _refused(capsys, ["--archs", path, "--dataset", "digits", "--out", out], *needles)
    assert not out.exists()


# Each bad value may be refused by the CLI's argument types or by the library's config check: either
# way one line that names the option (as --flag or as the config field) and the value.
@pytest.mark.parametrize("flags, patterns", [
    (["--C", "0"], [r"(--C\b|\bC:)", r"\b0\b"]),
    (["--C", "-16"], [r"(--C\b|\bC:)", "-16"]),
    (["--N", "-1"], [r"(--N\b|\bN:)", "-1"]),
    (["--epochs", "0"], [r"(--epochs|epochs:)", r"\b0\b"]),
    (["--epochs", "100000000000000000000"], [r"(--epochs|epochs:)", "100000000000000000000"]),
    (["--batch-size", "0"], [r"(--batch-size|batch_size:)", r"\b0\b"]),
    (["--batch-size", "-256"], [r"(--batch-size|batch_size:)", "-256"]),
    (["--lr", "nan"], [r"(--lr|lr:)", "nan"]),
    (["--lr", "inf"], [r"(--lr|lr:)", "inf"]),
    (["--lr", "-0.1"], [r"(--lr|lr:)", r"-0\.1"]),
    (["--lr", "0"], [r"(--lr|lr: input should be greater than 0)", r"\b0"]),
    (["--seeds", "-1"], [r"(--seeds|seeds?: (must be a non-empty sequence of ints in \[0, 2\*\*32\)|input should be greater than or equal to 0))", "-1"]),
    (["--seeds", "3", "3"], [r"(--seeds|seeds: repeats a seed)", r"3"]),
    (["--top-k", "0"], [r"(--top-k|top_k:)", r"\b0\b"]),
    (["--top-k", "2"], ["top_k ranks candidates by their 'rank' column \\(1 = best\\), which", "lacks"]),
    (["--space", "nas-bench-graph"], ["space must be 'nb201'", "'nas-bench-graph'"]),
    (["--device", "cuda:99" if __import__("torch").cuda.is_available() else "cuda"], ["cuda"]),
    (["--address", "auto"], ["bad options", "'local'"]),
])
def test_bad_training_values_are_refused_before_anything_is_written(tmp_path, capsys, archs_csv, flags, patterns):
    out = tmp_path / "out"
    line = _refused(capsys, ["--archs", archs_csv, "--dataset", "digits", "--out", out, *flags])
    for pattern in patterns:
        assert re.search(pattern, line), (pattern, line)
    assert not out.exists()


def test_bad_append_to_is_refused_before_training(tmp_path, capsys, archs_csv, unwritable_dir):
    out = tmp_path / "out"
    base = ["--archs", archs_csv, "--dataset", "digits", "--epochs", "1", "--out", out]
    not_parquet = tmp_path / "table.parquet"
    not_parquet.write_text("arch,value\nx,1\n")
    _refused(capsys, [*base, "--append-to", not_parquet], str(not_parquet), "not a readable parquet file")
    assert not_parquet.read_text() == "arch,value\nx,1\n"
    _refused(capsys, [*base, "--append-to", tmp_path], str(tmp_path), "is a directory")
    csv_name = tmp_path / "new-table.csv"
    _refused(capsys, [*base, "--append-to", csv_name], str(csv_name), "*.parquet")
    other = tmp_path / "nbg.parquet"
    BenchmarkTable.from_records("nas-bench-graph", pd.DataFrame(
        {"arch": ["0012:gcn-gat-skip-sage"], "task": ["cora"], "metric": ["valid_perf"], "value": [0.8]})).to_parquet(other)
    _refused(capsys, [*base, "--append-to", other], str(other), "'nas-bench-graph'", "not 'nb201'")
    ro = unwritable_dir
    _refused(capsys, [*base, "--append-to", ro / "t.parquet"], str(ro / "t.parquet"), "cannot write")
    assert not out.exists() and not csv_name.exists()


def test_corrupt_dataset_files_are_refused_before_training(tmp_path, capsys, archs_csv):
    """Every candidate would fail on them (exit 0, all rows 'failed'): refuse once, up front, instead."""
    out = tmp_path / "out"
    c10 = tmp_path / "c10" / "cifar-10-batches-bin"
    c10.mkdir(parents=True)
    record = 1 + 3 * 32 * 32
    for i in range(1, 6):
        (c10 / f"data_batch_{i}.bin").write_bytes(bytes(record * 2))
    (c10 / "test_batch.bin").write_bytes(bytes(record + 7))  # truncated mid-record
    _refused(capsys, ["--archs", archs_csv, "--dataset", "cifar10", "--data-root", c10.parent, "--out", out],
             str(c10 / "test_batch.bin"), "not a CIFAR binary batch", str(record + 7))
    in16 = tmp_path / "in16" / "ImageNet16-120"
    in16.mkdir(parents=True)
    (in16 / "train.npz").write_text("not an archive\n")
    (in16 / "val.npz").write_text("not an archive\n")
    msg = _refused(capsys, ["--archs", archs_csv, "--dataset", "ImageNet16-120", "--data-root", in16.parent, "--out", out],
                   str(in16 / "train.npz"), "not a .npz archive")
    assert "allow_pickle" not in msg and "unsafe" not in msg  # never advise unpickling
    import numpy as np

    np.savez(in16 / "train.npz", images=np.zeros((2, 16, 16, 3), np.uint8))
    with open(in16 / "train.npz", "rb") as src:  # np.savez appends nothing: the name stays train.npz
        assert src.read(2) == b"PK"
    _refused(capsys, ["--archs", archs_csv, "--dataset", "ImageNet16-120", "--data-root", in16.parent, "--out", out],
             str(in16 / "train.npz"), "lacks arrays 'x' and 'y'")
    assert not out.exists()
