"""The CLI reference (``docs/cli.md``), generated from the parser: ``python -m surrogate_nas.cli.reference > FILE``.

A test checks that the shipped file is what this prints, so the reference cannot drift from the options.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator

#: The width the reference is formatted at (argparse reads $COLUMNS).
WIDTH = 100


def _leaves(p: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield p
    for a in subs:
        for sp in a.choices.values():
            yield from _leaves(sp)


def reference() -> str:
    """Markdown: the top-level help, then every command's ``--help``, as the command line prints them."""
    from . import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)
    try:
        p = build_parser()
        parts = [
            "# Command-line reference",
            "",
            "Generated from the parser by `python -m surrogate_nas.cli.reference > docs/cli.md`.",
            "",
        ]
        parts += ["```text", p.format_help().rstrip(), "```", ""]
        for leaf in _leaves(p):
            parts += [f"## {leaf.prog}", "", "```text", leaf.format_help().rstrip(), "```", ""]
        return "\n".join(parts)
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


if __name__ == "__main__":
    print(reference(), end="")
