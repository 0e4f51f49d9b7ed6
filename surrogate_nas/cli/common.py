"""What every command shares: the one-line usage error, the parser, input readers and table output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import SurrogateNASError
from ..io import load_yaml

PROG = "surrogate-nas"


#: ``data list`` fits this many columns (``--verbose`` shows everything).
WIDTH = 100


#: Default target metric per built-in benchmark for ``pretrain``.
DEFAULT_METRIC = {"nb201": "test_acc", "nas-bench-graph": "valid_perf", "nas-bench-graph-proteins": "valid_perf"}


class UsageError(SurrogateNASError):
    """Bad command-line usage (argparse's complaints, as one line)."""


def task_list(text: str | None, flag: str) -> list[str]:
    """A comma-separated task list; empty names and repeats are refused (``,,`` is not 'all tasks')."""
    if text is None:
        return []
    items = [x.strip() for x in text.split(",")]
    if any(not x for x in items):
        raise UsageError(f"{flag} {text!r}: empty task name (give names separated by commas, or leave the option out)")
    dups = sorted({x for x in items if items.count(x) > 1})
    if dups:
        raise UsageError(f"{flag} {text!r}: task {dups[0]!r} is given more than once")
    return items


def inner_steps(value: str | None):
    if value is None or value == "cv":
        return value
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise UsageError(f"--inner-steps: expected an integer >= 0 or 'cv', got {value!r}")
    return n


def parse_options(items: list[str]) -> dict:
    import yaml

    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise UsageError(f"--option expects key=value, got {item!r}")
        try:
            out[k.strip()] = load_yaml(v)
        except yaml.YAMLError as e:
            raise UsageError(f"--option {item!r}: the value is not valid YAML ({yaml_problem(e)})") from None
    return out


def check_file(path: str, what: str) -> Path:
    p = Path(path)
    if p.is_dir():
        raise SurrogateNASError(f"{what} {path} is a directory, not a file")
    if not p.is_file():
        raise SurrogateNASError(f"{what} {path} does not exist")
    return p


def read_table(path: str, what: str):
    from ..benchmarks.readers import read_user_file

    try:
        df = read_user_file(Path(path))
    except SurrogateNASError as e:
        raise SurrogateNASError(f"{what} {e}") from None
    if len(df) == 0:
        raise SurrogateNASError(f"{what} {path}: no records (only a header)")
    return df


def number_column(col, where: str):
    """A column as floats; booleans, text and missing cells are refused naming the data row (1-based)."""
    import numpy as np
    import pandas as pd

    for i, v in enumerate(col.tolist()):
        if isinstance(v, (bool, np.bool_)):
            raise SurrogateNASError(f"{where}, data row {i + 1}: {bool(v)!r} is a boolean, not a number")
        if v is None or (isinstance(v, float) and np.isnan(v)):
            raise SurrogateNASError(f"{where}, data row {i + 1}: the value is missing")
    vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(vals))
    if len(bad):
        raw = col.iloc[bad[0]]
        raw = raw.item() if isinstance(raw, np.generic) else raw
        what = "is not a number" if np.isnan(vals[bad[0]]) else "is not finite"
        raise SurrogateNASError(f"{where}, data row {bad[0] + 1}: {raw!r} {what}")
    return vals


def parse_archs(space, texts: list, where: str, unit: str, numbers: list[int] | None = None) -> list:
    out = []
    for i, t in enumerate(texts):
        n = numbers[i] if numbers else i + 1
        if t is None or (isinstance(t, float) and t != t):
            raise SurrogateNASError(f"{where}, {unit} {n}: empty architecture cell")
        if not isinstance(t, str):
            raise SurrogateNASError(f"{where}, {unit} {n}: {t!r} is not an architecture string")
        try:
            out.append(space.parse(t))
        except SurrogateNASError as e:
            raise SurrogateNASError(f"{where}, {unit} {n}: {e}") from None
    return out


def refuse_repeats(space, archs: list, where: str, metric: str | None = None) -> None:
    """One measurement per architecture string (a string is a network). Isomorphic cells (different strings, one
    canonical key) are accepted; for a function-level ``metric`` a one-line note on stderr says their values are
    treated as repeated measurements of one function."""
    from ..predictors.support import isomorphic_note

    seen: dict = {}
    for i, a in enumerate(archs):
        j = seen.setdefault(a, i)
        if j != i:
            raise SurrogateNASError(
                f"{where}: data rows {j + 1} and {i + 1}: architecture {space.format(a)!r} "
                "appears twice; average repeated measurements first"
            )
    note = isomorphic_note(space, archs, where, metric)
    if note:
        print(f"note: {note}", file=sys.stderr)


def read_arch_list(space, path: str) -> list:
    """One architecture per line (file line numbers in messages); blank lines and # comments skipped."""
    p = check_file(path, "architecture list")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise SurrogateNASError(
            f"architecture list {path} is not a text file (expected UTF-8, one architecture per line)"
        )
    lines = [
        (n, ln.strip())
        for n, ln in enumerate(text.splitlines(), start=1)
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not lines:
        raise SurrogateNASError(f"architecture list {path} has no architectures")
    return parse_archs(space, [ln for _, ln in lines], f"architecture list {path}", "line", [n for n, _ in lines])


def metric_name(given: str | None, table, benchmark: str, task: str | None = None) -> str:
    """``--metric``: as given, else the built-in benchmark's default, else the table's only metric."""
    have = table.metrics(task) if task in table.tasks else table.metrics()
    metric = given or DEFAULT_METRIC.get(benchmark) or (have[0] if len(have) == 1 else None)
    if metric is None:
        raise SurrogateNASError(f"--metric is required for benchmark {benchmark!r}; metrics: {', '.join(have)}")
    return metric


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (exit 2 via :func:`main`), not usage + message."""

    def error(self, message):
        command = self.prog.removeprefix(PROG).strip()
        raise UsageError(f"{command + ': ' if command else ''}{message} (see `{self.prog} --help`)")


def print_frame(df) -> None:
    import pandas as pd

    with pd.option_context(
        "display.max_rows", 200, "display.max_columns", 50, "display.width", 200, "display.max_colwidth", 60
    ):
        print(df.to_string(index=False))


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def plain_table(df) -> str:
    from tabulate import tabulate

    return tabulate(df.values.tolist(), headers=list(df.columns), tablefmt="plain", disable_numparse=True)


def fit_table(df, width: int) -> str:
    """A plain table with the widest text cells shortened (…) until every line fits ``width``."""
    df = df.astype(str)
    while True:
        text = plain_table(df)
        over = max(map(len, text.splitlines())) - width
        if over <= 0:
            return text
        col = max(df.columns, key=lambda c: df[c].str.len().max())
        longest = int(df[col].str.len().max())
        if longest <= 8:
            return text
        keep = max(8, longest - over)
        df[col] = df[col].map(lambda s, keep=keep: clip(s, keep))


def one_line(e: BaseException | str) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return " ".join(lines) or type(e).__name__


def yaml_problem(e) -> str:
    mark = getattr(e, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{getattr(e, 'problem', None) or type(e).__name__}{where}"
