"""Wall time of ``surrogate-nas verify --dataset digits --epochs 1`` on 2 architectures, as a user runs it.

Two settings side by side, each a fresh ``surrogate-nas verify`` process (imports included), interleaved,
``--repeats`` times (median reported):

- ``NB-201 sizes``: ``--C 16 --N 5 --batch-size 256`` (NB-201's recipe; the defaults before digits got
  its own),
- ``digits recipe``: no size flags, so the dataset's recipe applies (see ``TrainConfig``).

The sizes each run actually used are read back from its ``verify.yaml``, so the table says what ran.

    python experiments/verify_digits_speed.py              # 3 repeats
    python experiments/verify_digits_speed.py --quick      # 1 repeat (CI smoke)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ARCHS = (
    "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|skip_connect~2|",
    "|none~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
)
SETTINGS = {
    "NB-201 sizes": ["--C", "16", "--N", "5", "--batch-size", "256"],
    "digits recipe": [],
}


def run_once(flags: list[str], work: Path, tag: str) -> dict:
    out = work / tag
    cmd = [sys.executable, "-m", "surrogate_nas.cli", "verify", "--archs", str(work / "archs.csv"),
           "--dataset", "digits", "--epochs", "1", "--device", "cpu", "--out", str(out), *flags]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    train = yaml.safe_load((out / "verify.yaml").read_text())["train"]
    res = pd.read_csv(out / "results.csv")
    return {"wall_s": wall, "test_acc": float(res["test_acc"].mean()),
            "sizes": f"C={train['C']}, N={train['N']}, batch {train['batch_size']}, threads {train['num_threads'] or 'torch default'}"}


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=None, help="runs per setting (default 3; --quick 1)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    samples: dict[str, list[dict]] = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pd.DataFrame({"arch": ARCHS}).to_csv(work / "archs.csv", index=False)
        for r in range(repeats):  # interleaved, so background load hits both settings alike
            for i, (name, flags) in enumerate(SETTINGS.items()):
                samples[name].append(run_once(flags, work, f"r{r}-s{i}"))
    rows = []
    for name, runs in samples.items():
        walls = [s["wall_s"] for s in runs]
        rows.append({"setting": name, "sizes": runs[0]["sizes"], "median_wall_s": statistics.median(walls),
                     "min_wall_s": min(walls), "max_wall_s": max(walls),
                     "mean_test_acc": statistics.mean(s["test_acc"] for s in runs), "repeats": len(runs)})
    table = pd.DataFrame(rows)
    print(f"surrogate-nas verify --dataset digits --epochs 1, 2 archs, fresh process each, median of {repeats}\n")
    print(table.to_markdown(index=False, floatfmt=".2f"))
    return rows


if __name__ == "__main__":
    main()
