"""Config files and command-line overrides into the dataclasses of :mod:`rlmusic.config.sections`.

YAML sections and ``section.key=value`` words are applied field by field with their types
checked; an unknown key, a wrong type or an invalid value is a one-line error naming the key.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, Union

import yaml

from rlmusic.config.sections import RunConfig
from rlmusic.errors import RLMusicError
from rlmusic.resources import CONFIGS_DIR


class _Loader(yaml.SafeLoader):
    """YAML with booleans spelled true/false only (YAML 1.2): ``mixed_precision=no`` stays the
    string "no" that accelerate expects, where YAML 1.1 would read it as False."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _ch in "tTfF":
    _Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                  [_ch])


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def _check_type(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` coerced to ``tp`` where that is lossless, else raise naming ``key``."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is type(None) and value is None:
                return None
            try:
                return _check_type(value, arg, key)
            except RLMusicError:
                pass
        raise RLMusicError(f"{key}: {value!r} is not a {tp}")
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    elif tp is dict or origin is dict:
        if isinstance(value, dict):
            return value
    else:
        return value
    name = getattr(tp, "__name__", str(tp))
    raise RLMusicError(f"{key}: expected {name}, got {value!r}")


def _apply(obj: Any, values: dict, prefix: str) -> None:
    hints = typing.get_type_hints(type(obj))
    known = {f.name for f in fields(obj)}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in known:
            raise RLMusicError(f"unknown config key {full!r}; known keys in {prefix.rstrip('.') or 'the config'}: "
                               f"{', '.join(sorted(known))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise RLMusicError(f"{full}: expected a mapping of fields, got {value!r}")
            _apply(current, value, full + ".")
        else:
            setattr(obj, key, _check_type(value, hints[key], full))


def parse_overrides(items: list[str]) -> dict:
    """``["pretrain.lr=1e-3", "model.n_layer=2"]`` -> nested dict with YAML-typed values."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise RLMusicError(f"override {item!r} must look like section.key=value (e.g. pretrain.lr=3e-4)")
        key, raw = item.split("=", 1)
        try:
            value = _yaml(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def merge_overrides(*parts: list[str] | dict | None) -> dict:
    """One nested dict of overrides from ``section.key=value`` lists and nested dicts of typed
    values (a stage called from Python, e.g. the demo, passes its values as they are), later
    parts winning key by key."""
    out: dict = {}

    def merge(into: dict, new: dict) -> None:
        for k, v in new.items():
            if isinstance(v, dict) and isinstance(into.get(k), dict):
                merge(into[k], v)
            else:
                into[k] = copy.deepcopy(v)  # the caller's dicts are never merged into

    for part in parts:
        if part:
            merge(out, parse_overrides(part) if isinstance(part, list) else part)
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | dict | None = None, base: Any = None) -> Any:
    """Defaults <- YAML file <- overrides, validated. ``base`` is the root dataclass (RunConfig)."""
    cfg = base if base is not None else RunConfig()
    if path:
        p = Path(path)
        if not p.is_file():
            raise RLMusicError(f"config file {str(p)!r} not found; pick one of configs/*.yaml")
        try:
            data = _yaml(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise RLMusicError(f"config file {str(p)!r} is not valid YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise RLMusicError(f"config file {str(p)!r} must be a mapping of sections")
        _apply(cfg, data, "")
    if overrides:
        _apply(cfg, parse_overrides(overrides) if isinstance(overrides, list) else overrides, "")
    return cfg.validate()


def config_from_dict(data: dict, base: Any = None) -> Any:
    """Rebuild a config saved with ``to_dict`` (e.g. from a checkpoint); unknown keys are errors."""
    cfg = base if base is not None else RunConfig()
    # Checkpoints written before sampling became the generate/metrics flags alone carry a
    # ``sample:`` section that no stage read: dropped, so they still load.
    _apply(cfg, {k: v for k, v in data.items() if k != "sample"}, "")
    return cfg.validate()


def resolve_config_path(name: str | None) -> Path | None:
    """``tiny`` -> the shipped configs/tiny.yaml; a path is used as is."""
    if not name:
        return None
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    candidate = CONFIGS_DIR / f"{name}.yaml"
    if candidate.is_file():
        return candidate
    known = ", ".join(sorted(x.stem for x in CONFIGS_DIR.glob("*.yaml"))) or "none"
    raise RLMusicError(f"config {name!r} not found; known configs: {known} (or pass a .yaml path)")
