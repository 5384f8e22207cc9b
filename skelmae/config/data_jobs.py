"""Typed configurations of the data jobs that have no home in data_pipeline (export, synthetic data)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator, model_validator

from data_pipeline.exporters import MAX_FRAMES
from data_pipeline.parquet_io import BENCHMARKS, MANIFEST
from data_pipeline.synthetic import ACTION_SPECS, SYNTHETIC_ACTIONS
from skelmae.config.sections import CommaList, Section

Benchmark = Literal[tuple(BENCHMARKS)]  # type: ignore[valid-type]


class ExportJobConfig(Section):
    data: str = Field("", description="Parquet dataset directory written by jobs/preprocess.py (required)")
    benchmark: Benchmark = Field("ntu60-xsub", description="which benchmark's train/test split to export")
    format: Literal["ctrgcn-npz", "stgcn-npy"] = Field("ctrgcn-npz", description="array layout")
    out: str = Field("", description=".npz file (ctrgcn-npz) or directory (stgcn-npy) (required)")
    max_frames: int = Field(MAX_FRAMES, ge=1, description="frames per exported sequence (longer ones are cut)")

    @field_validator("data")
    @classmethod
    def _finished_dataset(cls, data: str) -> str:
        if not data:
            raise ValueError("required (a dataset directory written by jobs/preprocess.py)")
        if not os.path.isfile(os.path.join(data, MANIFEST)):
            raise ValueError(f"{data!r} has no {MANIFEST}: not a finished dataset directory")
        return data

    @model_validator(mode="after")
    def _out_fits_format(self) -> ExportJobConfig:
        if not self.out:
            raise ValueError("out: required")
        if self.format == "ctrgcn-npz" and not self.out.endswith(".npz"):
            raise ValueError(f"out: ctrgcn-npz writes one .npz file, got {self.out!r}")
        return self


class MakeSyntheticConfig(Section):
    out: str = Field("data/synthetic_raw", min_length=1, description="directory the .skeleton files go to")
    samples: int = Field(500, ge=1, description="files to write")
    seed: int = Field(0, description="generator seed")
    actions: CommaList[int] = Field(list(SYNTHETIC_ACTIONS), description="action IDs to draw from")
    workers: int = Field(1, ge=1, description="processes writing files")

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, actions: list[int]) -> list[int]:
        unknown = [a for a in actions if a not in ACTION_SPECS]
        if not actions or unknown or len(set(actions)) != len(actions):
            raise ValueError(f"must be distinct IDs among {list(SYNTHETIC_ACTIONS)}, got {actions}")
        return actions
