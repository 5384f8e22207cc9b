"""The base of every job configuration section: strict pydantic models with section-aware defaults.

- Unknown keys are errors (`extra="forbid"`), and so is any non-finite float (`allow_inf_nan=False`:
  `--optim.lr inf` would train on NaN losses).
- A section whose default differs from its class default (the sweep's pretraining defaults, the
  pretraining optimiser's learning rate) keeps those differences when the input sets only part of it:
  `--pretrain.optim.batch_size 16` changes the batch size of the sweep's optimiser defaults, not of
  `OptimConfig()`. Pydantic alone would build the partial section from the class defaults.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

T = TypeVar("T")

STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, coerce_numbers_to_str=True, validate_default=False)


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip() != ""]
    return value


# A list that a command-line flag gives as `--mask_ratios 0.5,0.75,0.9`.
CommaList = Annotated[list[T], BeforeValidator(_split_commas)]


def diff_from_default(obj: BaseModel) -> dict:
    """The fields of `obj` that differ from a default-constructed instance of its class, nested."""
    base = type(obj)()
    out: dict = {}
    for name in type(obj).model_fields:
        v, b = getattr(obj, name), getattr(base, name)
        if isinstance(v, BaseModel):
            d = diff_from_default(v)
            if d:
                out[name] = d
        elif v != b:
            out[name] = v
    return out


def merge(base: dict, over: dict) -> dict:
    """`over` laid over `base`, section by section."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class Section(BaseModel):
    model_config = STRICT

    @model_validator(mode="before")
    @classmethod
    def _keep_section_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, info in cls.model_fields.items():
            if isinstance(data.get(name), dict) and info.default_factory is not None:
                default = info.default_factory()  # type: ignore[call-arg]
                if isinstance(default, BaseModel):
                    data[name] = merge(diff_from_default(default), data[name])
        return data
