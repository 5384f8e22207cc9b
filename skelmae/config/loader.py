"""Typed configuration: dataclasses loaded from YAML, overridden from the command line, validated.

One source of truth per job: a dataclass (possibly nested) whose defaults are the embedded default.
`load_config(JobConfig, argv)` reads `--config FILE.yaml` if given, then applies `--key value` or
`--key=value` overrides (dotted keys reach nested sections: `--model.mask_ratio 0.75`), then calls
`validate()` on every section, so a bad value fails before any work starts, naming the field.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from data_pipeline.errors import ConfigError

T = TypeVar("T")
__all__ = ["ConfigError", "load_config", "load_job_config"]


def _field_types(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, tp: Any, name: str) -> Any:
    """Convert `value` (from YAML or a CLI string) to the annotated type `tp`."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, name)
            except ConfigError:
                continue
        raise ConfigError(name, f"cannot read {value!r} as {tp}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(name, f"must be one of {list(args)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip() != ""]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(name, f"expected a list, got {value!r}")
        item = args[0] if args else str
        items = [_coerce(v, item, name) for v in value]
        return tuple(items) if origin is tuple else items
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(name, f"expected a mapping for section {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=f"{name}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(name, f"expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(name, f"expected an integer, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ConfigError(name, f"expected an integer, got {value!r}") from None
        if f != int(f):
            raise ConfigError(name, f"expected an integer, got {value!r}")
        return int(f)
    if tp is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(name, f"expected a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(name, f"expected a string, got {value!r}")
        return str(value)
    return value


def from_dict(cls: type[T], data: dict, prefix: str = "") -> T:
    """Build dataclass `cls` from a mapping; unknown keys are errors, missing keys keep defaults."""
    types_ = _field_types(cls)
    unknown = set(data) - set(types_)
    if unknown:
        name = prefix + sorted(unknown)[0]
        raise ConfigError(name, f"unknown field (known: {', '.join(sorted(types_))})")
    data = dict(data)
    for f in dataclasses.fields(cls):
        # A section whose default differs from its class default (e.g. a sweep's pretraining
        # defaults) keeps those differences under a partial override.
        if f.name in data and isinstance(data[f.name], dict) and f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
            if dataclasses.is_dataclass(default):
                data[f.name] = _merge(_diff_from_default(default), data[f.name])
    kwargs = {k: _coerce(v, types_[k], prefix + k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as e:
        # A section that checks itself at construction (e.g. resolving a model preset).
        if prefix and not e.field.startswith(prefix):
            raise ConfigError(prefix + e.field, str(e).split(": ", 1)[-1]) from None
        raise


def _diff_from_default(obj: Any) -> dict:
    """The fields of dataclass `obj` that differ from a default-constructed instance, nested."""
    base = type(obj)()
    out: dict = {}
    for f in dataclasses.fields(obj):
        v, b = getattr(obj, f.name), getattr(base, f.name)
        if dataclasses.is_dataclass(v):
            d = _diff_from_default(v)
            if d:
                out[f.name] = d
        elif v != b:
            out[f.name] = v
    return out


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dict -> {"model.mask_ratio": 0.9, ...}, e.g. for MLflow params."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _set_dotted(d: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
        if not isinstance(d, dict):
            raise ConfigError(key, f"{p} is not a section")
    d[parts[-1]] = value


def parse_overrides(argv: list[str]) -> tuple[str | None, dict]:
    """`--config F --a.b 1 --c=2 --flag` -> ("F", {"a": {"b": "1"}, "c": "2", "flag": "true"})."""
    config_file = None
    overrides: dict = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise ConfigError(arg, "expected --key value or --key=value")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                value = argv[i + 1]
                i += 1
            else:
                value = "true"  # a bare --flag
        key = key.replace("-", "_")
        if key == "config":
            config_file = value
        else:
            _set_dotted(overrides, key, value)
        i += 1
    return config_file, overrides


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def validate(cfg: Any, prefix: str = "") -> None:
    """Call `validate()` on `cfg` and on every nested dataclass section, depth first."""
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            validate(v, prefix=f"{prefix}{f.name}.")
    check = getattr(cfg, "validate", None)
    if check is not None:
        try:
            check()
        except ConfigError as e:
            if prefix and not e.field.startswith(prefix):
                raise ConfigError(prefix + e.field, str(e).split(": ", 1)[-1]) from None
            raise


def load_config(cls: type[T], argv: list[str] | None = None, path: str | None = None) -> T:
    """Defaults <- YAML file (`path` or `--config`) <- command-line overrides; then validate."""
    config_file, overrides = parse_overrides(list(argv or []))
    config_file = config_file or path
    data: dict = {}
    if config_file is not None:
        p = Path(config_file)
        if not p.is_file():
            raise ConfigError("config", f"no such file {config_file}")
        loaded = yaml.safe_load(p.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError("config", f"{config_file} does not hold a mapping")
        data = loaded
    cfg = from_dict(cls, _merge(data, overrides))
    validate(cfg)
    return cfg


def load_job_config(cls: type[T], argv: list[str], job: str) -> T | None:
    """`load_config` for a job's `main()`: a bad config prints `JOB: config error: FIELD: why` to stderr
    and returns None, so the job exits with status 2 before any work."""
    try:
        return load_config(cls, argv)
    except ConfigError as e:
        print(f"{job}: config error: {e}", file=sys.stderr)
        return None


def dump_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
