"""The output folder of a job: only ever ours to replace, one writer at a time, swapped in whole.

A dataset folder OUT is ours when it holds our manifest and nothing we did not write (`owned`); an
empty folder is accepted too (nothing in it can be lost). Anything else is refused before any work,
and so is an OUT inside the input or the input inside OUT, compared by real path.

Beside OUT, in its parent folder, a run keeps (all named after OUT, so never mistaken for the user's):

    .OUT.lock            pid, host and start time of the run that holds OUT; created with O_EXCL,
                         stale once that pid is dead on this host
    .OUT.staging-<id>/   the new dataset, written completely before it is published
    .OUT.old-<id>/       the previous dataset, between the swap and its removal

Publishing exchanges staging and OUT with one `renameat2(RENAME_EXCHANGE)`: at every instant OUT is
the old dataset or the new one. Where the kernel or filesystem lacks it, OUT is renamed to `.old-`
and staging into place; a kill in between leaves OUT missing, and the next run (`recover`) renames
the old dataset back before anything else. Object stores cannot rename folders: there the new
samples are copied over and the manifest written last (`publish_remote`).

`SKELMAE_PAUSE_AT=<point>` (test hook) makes the run write `SKELMAE_PAUSE_FILE` and sleep at that
named point, so a test can SIGKILL it there: a real fault at a known moment.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import socket
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from data_pipeline.errors import ConfigError
from data_pipeline.redact import redact

MANIFEST = "manifest.json"
OURS = {"samples", "errors.parquet", MANIFEST}  # every name we write into a dataset folder
MANIFEST_KINDS = ("preprocess", "import")


def pause(point: str) -> None:
    """Test hook: stop here (see module docstring) when SKELMAE_PAUSE_AT names this point."""
    if os.environ.get("SKELMAE_PAUSE_AT") == point:
        Path(os.environ["SKELMAE_PAUSE_FILE"]).write_text(str(os.getpid()))
        time.sleep(600)


def _sibling(out: Path, tag: str) -> Path:
    return out.parent / f".{out.name}.{tag}"


def _is_our_manifest(path: Path) -> bool:
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and m.get("kind") in MANIFEST_KINDS and "schema_version" in m and "counts" in m


def foreign_entries(out: Path) -> list[str]:
    """Names in the dataset folder `out` that we did not write (empty: the folder is ours to replace)."""
    names = sorted(os.listdir(out))
    foreign = [n for n in names if n not in OURS and not n.endswith(".tmp")]
    samples = out / "samples"
    if samples.is_symlink() or (samples.exists() and not samples.is_dir()):
        foreign.append("samples")
    elif samples.is_dir():
        foreign += [f"samples/{n}" for n in sorted(os.listdir(samples))
                    if not (n.startswith("part-") and ".parquet" in n)]
    return foreign


def owned(out: Path) -> bool:
    """True when `out` is a dataset folder we wrote (our manifest, nothing else of anyone's)."""
    return out.is_dir() and not out.is_symlink() and _is_our_manifest(out / MANIFEST) and not foreign_entries(out)


def check_target(out_dir: str) -> None:
    """Refuse an existing `out_dir` that is not ours to replace, naming what is in the way."""
    out = Path(out_dir)
    if not os.path.lexists(out):
        return
    shown = redact(out_dir)
    if out.is_symlink():
        raise ConfigError("out", f"{shown!r} is a symlink; give the real folder (a swap would replace the link)")
    if not out.is_dir():
        raise ConfigError("out", f"{shown!r} exists and is not a folder; refusing to replace it")
    if not os.listdir(out):
        return
    if not _is_our_manifest(out / MANIFEST):
        raise ConfigError("out", f"{shown!r} is not empty and not a skelmae dataset (no manifest of ours); "
                                 "nothing was touched; give a new or empty folder")
    foreign = foreign_entries(out)
    if foreign:
        raise ConfigError("out", f"{shown!r} holds files skelmae did not write ({', '.join(foreign[:5])}); "
                                 "nothing was touched; move them away or give another folder")


def check_disjoint(src: str, out_dir: str, field: str = "raw_dir") -> None:
    """Refuse an output inside the input or an input inside the output (real paths: symlinks followed)."""
    a, b = os.path.realpath(src), os.path.realpath(out_dir)
    if os.path.commonpath([a, b]) in (a, b):
        raise ConfigError("out", f"{redact(out_dir)!r} and {field} {redact(src)!r} overlap (real paths {b!r}, "
                                 f"{a!r}); the output must be neither inside the input nor contain it")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def locked(out_dir: str):
    """Hold `.OUT.lock` for the block; refuse when a live run holds it, take it over when its owner is dead."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = _sibling(out, "lock")
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                owner = json.loads(lock.read_text())
            except (OSError, ValueError):
                owner = {}
            if owner.get("host") == me["host"] and isinstance(owner.get("pid"), int) and not _pid_alive(owner["pid"]):
                lock.unlink(missing_ok=True)  # stale: its owner died without removing it
                continue
            raise ConfigError("out", f"{redact(out_dir)!r} is in use by another run (pid {owner.get('pid')} on "
                                     f"{owner.get('host')}, started {owner.get('started')}; lock {lock}); "
                                     "nothing was touched") from None
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    else:
        raise ConfigError("out", f"could not take the lock {lock}")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def recover(out_dir: str) -> None:
    """Under the lock: finish or undo what a killed run left beside OUT."""
    out = Path(out_dir)
    olds = sorted(p for p in out.parent.glob(f".{out.name}.old-*") if p.is_dir() and not p.is_symlink())
    if not os.path.lexists(out):
        for old in olds:
            if owned(old):  # killed between the two renames of the fallback swap: put the old dataset back
                os.rename(old, out)
                olds.remove(old)
                break
    for old in olds:
        shutil.rmtree(old)
    for staging in out.parent.glob(f".{out.name}.staging-*"):
        if staging.is_dir() and not staging.is_symlink():
            shutil.rmtree(staging)  # a dead run's (we hold the lock): never published


def new_staging(out_dir: str) -> str:
    staging = _sibling(Path(out_dir), f"staging-{uuid.uuid4().hex[:12]}")
    (staging / "samples").mkdir(parents=True)
    return str(staging)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (renameat2 RENAME_EXCHANGE); False where the system cannot."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def swap_in(staging: str, out_dir: str) -> None:
    """Make the complete dataset in `staging` the folder `out_dir`; the old one, if any, is removed after."""
    out, new = Path(out_dir), Path(staging)
    pause("staged")
    if not os.path.lexists(out):
        os.rename(new, out)
        return
    old = _sibling(out, f"old-{uuid.uuid4().hex[:12]}")
    # SKELMAE_SWAP=rename (tests) takes the fallback path even where the exchange works.
    if os.environ.get("SKELMAE_SWAP") != "rename" and _exchange(new, out):
        os.rename(new, old)  # `new` now names the old dataset
    else:
        os.rename(out, old)
        pause("old-moved")
        os.rename(new, out)
    pause("swapped")
    shutil.rmtree(old)


@contextmanager
def claim(out_dir: str, inputs: tuple[str, ...] = (), field: str = "raw_dir"):
    """For the block: `out_dir` is ours alone (checked, locked, a killed run's leftovers recovered)."""
    for src in inputs:
        check_disjoint(src, out_dir, field)
    check_target(out_dir)
    with locked(out_dir):
        recover(out_dir)
        check_target(out_dir)
        yield
