"""Command-line options generated from typed configurations, and ``--config FILE.yaml`` merged with them.

A command declares its options as :class:`Group` s, one per typed config (a library config such as
``SearchConfig``, or the command's own small model): every field a group names becomes an option whose flag,
type, choices, default and help come from the model, so options, defaults, ``--help`` and the config file cannot
drift apart. Parsing keeps only what the user gave (``argparse.SUPPRESS``); :func:`given` then lays the
command line over the config file over the command's defaults, per group, and the command builds its models from
that (the models validate, in one line naming the field and the value).
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import SurrogateNASError
from ..io import load_yaml
from .common import PROG, UsageError, check_file, yaml_problem

#: Namespace entries that are not options.
_INTERNAL = ("func", "groups", "config", "command", "label")


@dataclass(frozen=True)
class Group:
    """The options of one typed config ``model`` (a pydantic model): the fields in ``flags`` are options.

    ``section``: the config file's key holding this group's fields (e.g. ``meta:``); None: the file's top level.
    ``rename``: field -> flag where it is not ``--field-name`` (``"--out"``, ``"--from"``); ``positional``: fields
    given without a flag; ``short``: field -> a one-letter alias. ``defaults``: the command's own defaults where
    they differ from the model's; ``required``: fields the command needs (on the command line or in the file).
    """

    key: str
    model: Any
    flags: tuple[str, ...]
    section: str | None = None
    rename: Mapping[str, str] = field(default_factory=dict)
    positional: tuple[str, ...] = ()
    short: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    def flag(self, name: str) -> str:
        return self.rename.get(name, name if name in self.positional else "--" + name.replace("_", "-"))

    def default(self, name: str) -> Any:
        if name in self.defaults:
            return self.defaults[name]
        return self.model.model_fields[name].get_default(call_default_factory=True)


def cli_type(annotation: Any) -> tuple[str, Any]:
    """How a field's type reads from the command line: ("bool" | "choices" | "many" | "one", converter/choices)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated or origin in (typing.Union, types.UnionType):
        return cli_type(args[0])
    if origin is typing.Literal:
        return "choices", tuple(args)
    if origin is tuple:
        return "many", cli_type(args[0])[1]
    if annotation is bool:
        return "bool", None
    return "one", annotation if annotation in (int, float) else str


def _help(group: Group, name: str) -> str:
    f = group.model.model_fields[name]
    text = f.description or name.replace("_", " ")
    default = group.default(name)
    if name in group.required:
        return text + "; required"
    if default in (None, "", (), [], {}) or isinstance(default, bool):
        return text
    shown = " ".join(map(str, default)) if isinstance(default, (tuple, list)) else default
    return f"{text} (default: {shown})"


def add_group(p: argparse.ArgumentParser, group: Group) -> None:
    """One option per field of ``group.flags``; only given options reach the namespace (as ``key.field``)."""
    for name in group.flags:
        kind, arg = cli_type(group.model.model_fields[name].annotation)
        flag, dest = group.flag(name), f"{group.key}.{name}"
        kw: dict[str, Any] = {"default": argparse.SUPPRESS, "help": _help(group, name)}
        if name in group.positional:
            kw.update(metavar=flag, nargs=None if name in group.required else "?")
            names: tuple[str, ...] = (dest,)
        else:
            kw["dest"] = dest
            names = (flag, group.short[name]) if name in group.short else (flag,)
        if kind == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        elif kind == "choices":
            kw["choices"] = arg
        elif kind == "many":
            kw.update(nargs="+", type=arg)
        else:
            kw["type"] = arg
        if kind not in ("bool", "choices") and name not in group.positional:
            kw["metavar"] = name.upper()
        p.add_argument(*names, **kw)


def add_options(p: argparse.ArgumentParser, groups: Sequence[Group], config: str | None = None) -> None:
    """The options of every group, and ``--config`` (``config``: what the file may hold) unless None."""
    if config is not None:
        p.add_argument(
            "--config",
            metavar="FILE.yaml",
            default=argparse.SUPPRESS,
            help=f"read options from a YAML file ({config}); unknown keys are refused, options on the command "
            "line override the file",
        )
    for g in groups:
        add_group(p, g)
    p.set_defaults(groups=tuple(groups), label=p.prog.split(" ", 1)[-1])


def load_config(path: str) -> dict:
    """A ``--config`` file: a YAML mapping (aliases refused); one line naming the file when it is not."""
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


def _route(d: dict, groups: Sequence[Group], where: str, command: str) -> dict[str, dict]:
    """The file's values per group: top-level keys to the top-level group whose model has the field, a section's
    mapping to its group; an unknown key is refused naming it and what is known."""
    out: dict[str, dict] = {g.key: {} for g in groups}
    top = [g for g in groups if g.section is None]
    sections = {g.section: g for g in groups if g.section is not None}
    for key, value in d.items():
        k = str(key).replace("-", "_")
        if k in sections:
            g = sections[k]
            if not isinstance(value, dict):
                raise SurrogateNASError(f"{where}: {k!r} must be a mapping of {g.model.__name__} fields")
            unknown = sorted(set(map(str, value)) - set(g.model.model_fields))
            if unknown:
                known = ", ".join(sorted(g.model.model_fields))
                raise SurrogateNASError(f"{where}: unknown key '{k}.{unknown[0]}'; {g.model.__name__} fields: {known}")
            out[g.key].update(value)
            continue
        owner = next((g for g in top if k in g.model.model_fields), None)
        if owner is None:
            names = sorted({f for g in top for f in g.model.model_fields} | set(sections))
            raise SurrogateNASError(
                f"{where}: unknown key {str(key)!r} for `{PROG} {command}`; known: {', '.join(names)}"
            )
        out[owner.key][k] = value
    return out


@dataclass
class Given:
    """What a command was given: per group the merged values (:func:`given`) and the fields the user set in them
    (on the command line or in the config file, not the command's defaults), and the other options."""

    values: dict[str, dict]
    extra: dict[str, Any]
    groups: Sequence[Group]
    user_set: dict[str, set[str]] = field(default_factory=dict)

    def build(self, key: str, **fixed: Any) -> Any:
        """The typed config of group ``key`` from its values (and ``fixed`` ones); a bad value is its one line."""
        group = next(g for g in self.groups if g.key == key)
        return group.model(**{**self.values[key], **fixed})


def given(ns: argparse.Namespace) -> Given:
    """What the parsed command line ``ns`` gives each group: the command line over the config file over the
    command's defaults, and the options of no group.

    Only the fields someone set are in a group's mapping (the model fills the rest); ``null`` in the file means
    the default. A required field missing from both is one usage error naming its flag(s)."""
    command = ns.label
    options = {k: v for k, v in vars(ns).items() if k not in _INTERNAL}
    groups: Sequence[Group] = getattr(ns, "groups", ())
    path = getattr(ns, "config", None)
    routed = _route(load_config(path), groups, f"config file {path}", command) if path else {}
    values: dict[str, dict] = {}
    missing = []
    user_set: dict[str, set[str]] = {}
    for g in groups:
        from_file = {k: v for k, v in routed.get(g.key, {}).items() if v is not None}
        from_flags = {k.split(".", 1)[1]: v for k, v in options.items() if k.startswith(g.key + ".")}
        merged = {**g.defaults, **from_file, **from_flags}
        user_set[g.key] = set(from_file) | set(from_flags)
        missing += [g.flag(n) for n in g.required if merged.get(n) in (None, "")]
        values[g.key] = merged
    if missing:
        raise UsageError(f"{command}: {', '.join(missing)} required (on the command line or in --config)")
    return Given(values, {k: v for k, v in options.items() if "." not in k}, groups, user_set)


def command(sub, name: str, about: tuple[str, str], func, groups: Sequence[Group] = (), config: str | None = None):
    """Add the (sub)command ``name`` to the subparsers ``sub``: ``about`` = (its line in the list of commands, its
    --help description); ``func`` runs it; ``groups`` are its options (with ``--config`` unless ``config`` is
    None). Returns its parser."""
    p = sub.add_parser(name, help=about[0], description=about[1])
    p.set_defaults(func=func)
    if groups:
        add_options(p, groups, config)
    return p


def command_group(sub, name: str, about: str, dest: str):
    """A command with actions (``data list``, ``data fetch``, ...): the subparsers its actions are added to."""
    p = sub.add_parser(name, help=about, description=about[:1].upper() + about[1:] + ".")
    return p.add_subparsers(dest=dest, required=True, metavar="ACTION")


__all__ = [
    "Given",
    "Group",
    "add_group",
    "add_options",
    "cli_type",
    "command",
    "command_group",
    "given",
    "load_config",
]
