"""Command-line flags made from documented dataclasses, so a flag's name, type, default and help
are written once, on the field they set."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from typing import Any


def field_docs(cls: type) -> dict[str, str]:
    """Each field's docstring (the string literal right after its annotation), by field name."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body
    docs = {}
    for item, after in zip(body, body[1:] + [None]):
        if (isinstance(item, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[item.target.id] = " ".join(after.value.value.split())
    return docs


def _scalar(tp: Any) -> Any:
    """``int`` for ``int | None`` and the like: the type a flag's text is parsed into."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def add_flags(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (), **defaults: Any) -> None:
    """One ``--field-name`` flag per field of ``cls`` not in ``skip``: booleans are switches, lists
    repeat, the rest parse into the field's type; ``defaults`` replaces a field's default."""
    hints, docs = typing.get_type_hints(cls), field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        default = defaults.get(f.name, f.default if f.default is not dataclasses.MISSING else f.default_factory())
        tp, flag, doc = hints[f.name], "--" + f.name.replace("_", "-"), docs.get(f.name, "")
        if tp is bool:
            parser.add_argument(flag, action="store_true", help=doc)
        elif typing.get_origin(tp) is list:
            parser.add_argument(flag, action="append", default=list(default), type=typing.get_args(tp)[0], help=doc)
        else:
            shown = "" if default in ("", None) or "default:" in doc else f" (default: {default})"
            parser.add_argument(flag, type=_scalar(tp), default=default, help=doc + shown)


def from_flags(cls: type, args: argparse.Namespace, **values: Any):
    """``cls`` built from the parsed flags named after its fields, and ``values`` for the rest."""
    taken = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    return cls(**{**taken, **values})


def settings_help(sections: dict[str, type]) -> str:
    """Every field of the given config sections as ``section.field=DEFAULT`` and its documentation,
    for a stage's ``--help``: the settings a ``section.key=value`` override can change."""
    lines = ["settings (override any as section.key=value; documented in rlmusic/config/sections.py and rlmusic/config/ppo.py):"]
    for name, cls in sections.items():
        docs, instance = field_docs(cls), cls()
        lines.append("")
        for f in dataclasses.fields(cls):
            doc = docs.get(f.name, "")
            lines.append(f"  {name}.{f.name}={getattr(instance, f.name)!r}")
            lines += textwrap.wrap(doc, 92, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)
