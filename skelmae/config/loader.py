"""Job configuration from defaults, a YAML file and command-line flags; `--help` from the same models.

`load_config(JobConfig, argv)` reads `--config FILE.yaml` if given, then applies `--key value`,
`--key=value` or bare `--flag` overrides (dotted keys reach nested sections: `--model.mask_ratio 0.75`),
and validates the whole config with pydantic, so a bad value fails before any work starts. Every
failure is a `ConfigError` whose field is the dotted path (`optim.lr: ...`).

Job configs are pydantic models (skelmae.config.jobs); plain dataclasses with an optional `validate()`
(data_pipeline's preprocess job) load the same way.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from data_pipeline.errors import ConfigError
from skelmae.config.sections import STRICT, merge

T = TypeVar("T")
__all__ = ["ConfigError", "config_error", "dump_yaml", "flatten", "help_text", "load_config", "load_job_config",
           "parse_overrides", "to_dict"]

# Checks across fields raise ValueError("FIELD: why") from a model validator; pydantic reports them
# at the model's location, so the field is read back from the message.
_FIELD_PREFIX = re.compile(r"^(?:Value error, )?([A-Za-z_][\w.]*): (.*)$", re.DOTALL)


def _section(cls: type | None, loc: list[str]) -> type | None:
    for part in loc:
        info = getattr(cls, "model_fields", {}).get(part)
        if info is None or not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)):
            return None
        cls = info.annotation
    return cls


def config_error(exc: ValidationError, prefix: str = "", cls: type | None = None) -> ConfigError:
    """The first error of a pydantic ValidationError as a ConfigError naming the dotted field."""
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err["loc"]]
    msg = err["msg"]
    m = _FIELD_PREFIX.match(msg)
    if err["type"] == "value_error" and m:
        loc.append(m.group(1))
        msg = m.group(2)
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "extra_forbidden":
        section = _section(cls, loc[:-1])
        msg = f"unknown field (known: {', '.join(section.model_fields)})" if section else "unknown field"
    elif err["type"] not in ("missing", "value_error") and "input" in err:
        msg = f"{msg}, got {err['input']!r}"
    return ConfigError(prefix + ".".join(loc) if loc else prefix.rstrip(".") or "config", msg)


# ---------------------------------------------------------------------------- command line
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


def read_yaml(path: str) -> dict:
    """A YAML mapping, read safely (no `!!python/...` tags); errors give FILE:LINE."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("config", f"no such file {path}")
    try:
        loaded = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError("config", f"{where}: {problem}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError("config", f"{path} does not hold a mapping")
    return loaded


# ---------------------------------------------------------------------------- plain dataclasses
def _dataclass_model(cls: type) -> type[BaseModel]:
    """A pydantic model with the fields, types and defaults of dataclass `cls`."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            fields[f.name] = (hints[f.name], f.default)
        elif f.default_factory is not dataclasses.MISSING:
            fields[f.name] = (hints[f.name], f.default_factory())
        else:
            fields[f.name] = (hints[f.name], ...)
    return create_model(cls.__name__, __config__=ConfigDict(**STRICT), **fields)


def _validate_dataclass(cls: type[T], data: dict) -> T:
    try:
        model = _dataclass_model(cls)
        values = model.model_validate(data)
    except ValidationError as e:
        raise config_error(e, cls=model) from None
    cfg = cls(**dict(values))
    check = getattr(cfg, "validate", None)
    if check is not None:
        check()
    return cfg


# ---------------------------------------------------------------------------- loading
def load_config(cls: type[T], argv: list[str] | None = None, path: str | None = None) -> T:
    """Defaults <- YAML file (`path` or `--config`) <- command-line overrides; then validate."""
    config_file, overrides = parse_overrides(list(argv or []))
    config_file = config_file or path
    data = read_yaml(config_file) if config_file is not None else {}
    data = merge(data, overrides)
    if dataclasses.is_dataclass(cls):
        return _validate_dataclass(cls, data)
    try:
        return cls.model_validate(data)  # type: ignore[attr-defined]
    except ValidationError as e:
        raise config_error(e, cls=cls) from None


def load_job_config(cls: type[T], argv: list[str], job: str, doc: str = "") -> T | None:
    """`load_config` for a job's `main()`. `--help` prints the fields and exits 0; a bad config prints
    `JOB: config error: FIELD: why` to stderr and returns None, so the job exits with status 2 before
    any work."""
    if "--help" in argv or "-h" in argv:
        print(help_text(cls, job, doc))
        raise SystemExit(0)
    try:
        return load_config(cls, argv)
    except ConfigError as e:
        print(f"{job}: config error: {e}", file=sys.stderr)
        return None


# ---------------------------------------------------------------------------- help
def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return "{" + ",".join(str(a) for a in args) + "}"
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (list, tuple):
        return f"{_type_name(args[0]) if args else 'str'},..."
    if origin in (typing.Union, types.UnionType):
        return "|".join(_type_name(a) for a in args)
    return getattr(tp, "__name__", str(tp))


def _rows(cls: type, default: Any, prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        items = [(f.name, hints[f.name], f.metadata.get("description", "")) for f in dataclasses.fields(cls)]
    else:
        items = [(n, i.annotation, i.description or "") for n, i in cls.model_fields.items()]
    for name, tp, description in items:
        value = getattr(default, name, None)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            rows.append((f"{prefix}{name}", "section", "", description))
            rows.extend(_rows(tp, value, f"{prefix}{name}."))
            continue
        shown = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        rows.append((f"{prefix}{name}", _type_name(tp), shown if shown != "" else '""', description))
    return rows


def _defaults(cls: type) -> Any:
    if dataclasses.is_dataclass(cls):
        return cls()
    return cls.model_construct()  # type: ignore[attr-defined]  # defaults, without the checks


def help_text(cls: type, job: str, doc: str = "") -> str:
    """Every field of the job's config: flag, type, default and description."""
    lines = [f"usage: python jobs/{job}.py [--config FILE.yaml] [--FIELD VALUE | --FIELD=VALUE | --FLAG] ...", ""]
    if doc:
        lines += [doc.strip(), ""]
    lines += ["A YAML file (--config) sets the same fields, nested by section; flags override it.", "",
              "  --config FILE.yaml", ""]
    for flag, tp, default, description in _rows(cls, _defaults(cls), ""):
        if tp == "section":
            lines.append(f"  {flag}.*: {description}" if description else f"  {flag}.*")
            continue
        lines.append(f"  --{flag} {tp}  (default {default})")
        if description:
            lines.append(f"        {description}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- output
def to_dict(cfg: Any) -> dict:
    """Plain nested dict of a config (JSON types only)."""
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    return cfg.model_dump(mode="json")


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dict -> {"model.mask_ratio": 0.9, ...}, e.g. for MLflow params."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def dump_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
