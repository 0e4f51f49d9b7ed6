"""``--config FILE.yaml``: a command's options read from a YAML file; the command line wins."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import SurrogateNASError
from .common import check_file, load_yaml, yaml_problem


def load_config(path: str) -> dict:
    import yaml

    p = check_file(path, "config file")
    try:
        d = load_yaml(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise SurrogateNASError(f"config file {path} is not a text file (expected YAML)") from None
    except yaml.YAMLError as e:
        raise SurrogateNASError(f"config file {path} is not valid YAML ({yaml_problem(e)})") from None
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise SurrogateNASError(f"config file {path} must be a mapping of option: value, got a YAML {type(d).__name__}")
    return d


def config_sections(command: str) -> dict[str, Any]:
    """Config-file sections of a command: {key: dataclass} for keys that hold one dataclass's fields."""
    if command == "pretrain":
        from ..meta.maml import MetaConfig
        from ..predictors.gnn import ModelConfig

        return {"model": ModelConfig, "meta": MetaConfig}
    if command == "verify":
        from ..training import TrainConfig

        return {"train": TrainConfig}
    return {}


def top_fields(command: str) -> dict[str, str] | None:
    """Config keys (dataclass fields) of commands whose top level is a dataclass: {field: dest or ''}."""

    if command == "search":
        from ..search.run import SearchConfig
        from .search import SEARCH_FIELDS

        dests = {f: d for d, f in SEARCH_FIELDS.items()}
        return {f: dests.get(f, "") for f in SearchConfig.field_names()} | {"threads": "threads"}
    if command == "verify":
        from ..training import VerifyConfig
        from .verify import VERIFY_FIELDS

        dests = {f: d for d, f in VERIFY_FIELDS.items()}
        return {f: dests.get(f, "") for f in VerifyConfig.field_names()} | {"archs": "archs"}
    if command == "pretrain":
        from .pretrain import PRETRAIN_TOP

        return {k: k for k in PRETRAIN_TOP}
    return None


def apply_config(args, parser: argparse.ArgumentParser, given: set[str]) -> None:
    """Fill ``args`` from ``--config`` for every option the user did not give; other keys -> ``args.extra``."""

    args.extra = {}
    if not getattr(args, "config", None):
        return
    d = load_config(args.config)
    where = f"config file {args.config}"
    actions = {a.dest: a for a in parser._actions if a.option_strings and a.dest not in ("help", "config")}
    top = top_fields(args.command)
    from .pretrain import PRETRAIN_META, PRETRAIN_MODEL
    from .verify import VERIFY_TRAIN

    sections = config_sections(args.command)
    flag_of = {"model": PRETRAIN_MODEL, "meta": PRETRAIN_META, "train": VERIFY_TRAIN}
    for key, value in d.items():
        k = str(key).replace("-", "_")
        if k in sections:
            if not isinstance(value, dict):
                raise SurrogateNASError(f"{where}: {k!r} must be a mapping of {sections[k].__name__} fields")
            names = set(sections[k].field_names())
            dests = {f: dst for dst, f in flag_of[k].items()}
            for sub, v in value.items():
                if sub not in names:
                    raise SurrogateNASError(
                        f"{where}: unknown key '{k}.{sub}'; {sections[k].__name__} fields: {', '.join(sorted(names))}"
                    )
                if sub in dests:
                    set_from_file(args, actions[dests[sub]], v, given, f"{where}: {k}.{sub}")
                else:
                    args.extra.setdefault(k, {})[sub] = v
            continue
        if top is None:
            known = {dst: dst for dst in actions}
        else:
            known = top
        if k not in known:
            raise SurrogateNASError(
                f"{where}: unknown key {str(key)!r} for `{parser.prog}`; "
                f"known: {', '.join(sorted(set(known) | set(sections)))}"
            )
        dest = known[k]
        if dest:
            set_from_file(args, actions[dest], value, given, f"{where}: {k}")
        else:
            args.extra[k] = value


def set_from_file(args, action: argparse.Action, value, given: set[str], where: str) -> None:
    if action.dest in given or value is None:  # the command line wins; null = the default
        return
    if action.dest in ("train_tasks", "val_tasks", "features") and isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise SurrogateNASError(f"{where}: expected a list of names, got {value!r}")
        if not value:  # [] = none given (pretrain.yaml writes val_tasks: [])
            return
        value = ",".join(value)
    if action.nargs == 0:  # a switch
        if not isinstance(value, bool):
            raise SurrogateNASError(f"{where}: expected true or false, got {value!r}")
        setattr(args, action.dest, value if action.const is not False else not value)
        return
    many = action.nargs in ("+", "*") or isinstance(action, argparse._AppendAction)
    items = value if many and isinstance(value, list) else [value]
    out = []
    typ: Any = action.type  # a converter (argparse also allows a registered name; this parser registers none)
    expected = {int: "an integer", float: "a number"}.get(typ, getattr(typ, "__name__", "text"))
    for v in items:
        if isinstance(v, (dict, list)) or (isinstance(v, bool) and typ is not None):
            raise SurrogateNASError(f"{where}: {v!r} is not a valid value (expected {expected})")
        try:
            conv = typ(str(v)) if typ else str(v)
        except (TypeError, ValueError, argparse.ArgumentTypeError):
            raise SurrogateNASError(f"{where}: {v!r} is not a valid value (expected {expected})") from None
        if action.choices is not None and conv not in action.choices:
            raise SurrogateNASError(f"{where}: {conv!r} is not one of {', '.join(map(str, action.choices))}")
        out.append(conv)
    setattr(args, action.dest, out if many else out[0])


def subparser(parser: argparse.ArgumentParser, args) -> argparse.ArgumentParser:
    """The (sub)parser that parsed ``args``' command."""
    p = parser
    while True:
        sp = next((a for a in p._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sp is None or getattr(args, sp.dest, None) is None:
            return p
        p = sp.choices[getattr(args, sp.dest)]


def given_dests(argv: list[str]) -> set[str]:
    """The dests the user gave on the command line (a second parse where nothing has a default)."""
    from . import build_parser

    p = build_parser(full=argv[:1])
    stack = [p]
    while stack:
        parser = stack.pop()
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                stack.extend(a.choices.values())
            elif a.dest != "help":
                a.default = argparse.SUPPRESS
    return set(vars(p.parse_args(argv)))
