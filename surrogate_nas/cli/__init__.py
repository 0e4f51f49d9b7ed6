"""The ``surrogate-nas`` command line: a thin layer that turns arguments into library calls.

One module per command group (``data``, ``records``, ``pretrain``, ``predict``, ``search``, ``verify``, ``measure``,
``experiment``), each adding its parser with ``register``; ``common`` holds what they share and ``config_files``
the ``--config`` reading.

Every command takes ``--config FILE.yaml``: the same dataclass configuration the library uses
(``SearchConfig`` for ``search``; ``model:`` = ModelConfig and ``meta:`` = MetaConfig for
``pretrain``; VerifyConfig with ``train:`` = TrainConfig for ``verify``), or for the other commands
their options by name. Unknown keys are refused; options given on the command line override the
file. Bad input ends in one line ``surrogate-nas: error: ...`` and exit status 2.

Imports are lazy (inside the command functions): ``predict`` never pays for search or training.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..errors import SurrogateNASError

DESCRIPTION = (
    "Meta-learned surrogate predictors for neural architecture search: pretrain a GNN predictor on "
    "benchmark records, predict a new task from a few measurements, search with it, verify the winners "
    "by real training. Every command takes --config FILE.yaml; options given on the command line "
    "override the file's values. `surrogate-nas COMMAND --help` lists a command's options with their defaults."
)

#: The command groups, in ``--help`` order: each module's ``register(subparsers)`` adds its parser(s).
GROUPS = ("data", "records", "pretrain", "predict", "search", "verify", "measure", "experiment")


def build_parser(full: Sequence[str] = GROUPS):
    """The ``surrogate-nas`` parser. The groups in ``full`` get all their options (a command whose options are
    generated from a typed config imports that config); the others only their names and help."""
    import importlib

    from .common import PROG, Parser

    p = Parser(prog=PROG, description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        importlib.import_module(f"{__name__}.{group}").register(sub, full=group in full)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from .common import PROG, one_line
    from .options import given

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(full=argv[:1])  # only the command being run imports its configs
        ns = parser.parse_args(argv)
        return int(ns.func(given(ns)) or 0)
    except SurrogateNASError as e:
        print(f"{PROG}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the checks could not foresee (disk full, a race): still one line
        print(
            f"{PROG}: error: {e.filename or ''}{': ' if e.filename else ''}{e.strerror or one_line(e)}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
