import pandas as pd

from surrogate_nas.cli import main

from .conftest import NB201_CSV

NB = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"


def test_data_list_shows_sources(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "nas-bench-graph" in out and "26206" in out and "nb201" in out and "15625" in out


def test_records_summary_and_top(capsys):
    assert main(["records", "summary", "nas-bench-graph"]) == 0
    out = capsys.readouterr().out
    assert "valid_perf" in out and "838592 records" in out
    assert main(["records", "top", "nb201", "--task", "ImageNet16-120", "--metric", "test_acc", "-n", "1"]) == 0
    assert "47.31" in capsys.readouterr().out


def test_fetch_import_and_errors(capsys, data_dir, tmp_path):
    assert main(["data", "fetch", "nb201", "--url", NB201_CSV.as_uri()]) == 0
    assert "sha256 verified" in capsys.readouterr().out
    src = tmp_path / "lat.csv"
    pd.DataFrame({"arch": [NB], "pixel7": [3.0]}).to_csv(src, index=False)
    assert main(["data", "import", str(src), "--space", "nb201", "--metric", "latency_ms"]) == 0
    assert main(["data", "list"]) == 0
    assert "imported" in capsys.readouterr().out
    assert main(["records", "summary", "nope"]) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err
    assert main(["data", "import", str(src), "--space", "nb999", "--metric", "m"]) == 2
    assert "unknown search space 'nb999'" in capsys.readouterr().err
