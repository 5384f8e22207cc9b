"""Reading a checkpoint file that may come from anyone: tensors and plain containers only.

`torch.load(weights_only=True)` refuses any pickled object other than tensors, numbers, strings and
containers of them, so a downloaded `.pt` cannot run code when it is read. The project's own
checkpoints hold exactly that (state dicts, configs as dicts, ints/floats). Same speed as a plain load.
"""

from __future__ import annotations

import os
import pickle

import torch


class CheckpointFileError(ValueError):
    """A checkpoint file that cannot (or must not) be read; the message starts with the file."""


def read_checkpoint(path: str | os.PathLike) -> object:
    """The contents of the torch file `path`, loaded on the CPU without unpickling arbitrary objects."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message names the refused global (e.g. posix.system) and pages of advice: keep the first line.
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointFileError(
            f"{path}: cannot read as a checkpoint: it holds objects other than tensors and plain containers, "
            f"refused because unpickling them could run code ({reason})") from None
    except Exception as e:  # noqa: BLE001 - missing, not a torch file, truncated ...: say which file
        raise CheckpointFileError(f"{path}: cannot read as a checkpoint ({type(e).__name__}: {e})") from None
