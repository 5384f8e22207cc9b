"""What is in a raw folder: the `.skeleton` samples, the entries that cannot be one, and the rest.

Only names ending exactly in `.skeleton` are samples; other names (and hidden ones) are left alone
and only counted. A sample-named entry that cannot be read as a file becomes an error row and the
listing goes on: a name that is not UTF-8 (shown escaped), a dangling symlink, a FIFO or socket
(never opened: a FIFO would block), an unreadable file. Local folders are walked with `os.scandir`
on bytes paths, so any name the filesystem holds can be listed; directories are entered once each
by (st_dev, st_ino), so a symlink loop or a second link to a folder adds nothing.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

import pyarrow.fs as pafs

SUFFIX = ".skeleton"


@dataclass
class Listing:
    files: list[tuple[str, str]] = field(default_factory=list)  # (path to read, name relative to the folder)
    errors: list[dict] = field(default_factory=list)  # {"file", "reason"} of sample names that are no file
    ignored: int = 0  # entries that are not sample names (other names, hidden ones, folders seen twice)


def shown(name: bytes) -> str:
    """A file name as text, invalid UTF-8 bytes escaped (\\xff)."""
    return name.decode("utf-8", "backslashreplace")


def list_local(raw_dir: str) -> Listing:
    """Walk the local folder `raw_dir`; sorted by relative name."""
    out = Listing()
    root = os.fsencode(raw_dir)
    top = os.stat(root)
    seen = {(top.st_dev, top.st_ino)}
    stack = [(root, b"")]
    while stack:
        folder, rel_folder = stack.pop()
        try:
            # real folders before links, so a folder reached both ways is listed under its real name
            entries = sorted(os.scandir(folder), key=lambda e: (e.is_symlink(), e.name))
        except OSError as e:
            out.errors.append({"file": shown(rel_folder) or ".", "reason": f"unreadable: folder: {e.strerror}"})
            continue
        for entry in entries:
            rel = rel_folder + b"/" + entry.name if rel_folder else entry.name
            if entry.name.startswith(b"."):
                out.ignored += 1
                continue
            try:
                st = os.stat(entry.path)  # follows symlinks
            except OSError as e:
                if entry.name.endswith(SUFFIX.encode()):
                    what = "dangling symlink" if entry.is_symlink() else e.strerror
                    out.errors.append({"file": shown(rel), "reason": f"unreadable: {what}"})
                else:
                    out.ignored += 1
                continue
            if stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) in seen:
                    out.ignored += 1  # a loop, or a folder already reached by another link
                else:
                    seen.add((st.st_dev, st.st_ino))
                    stack.append((entry.path, rel))
                continue
            if not entry.name.endswith(SUFFIX.encode()):
                out.ignored += 1
                continue
            try:
                name = rel.decode("utf-8")
            except UnicodeDecodeError:
                out.errors.append({"file": shown(rel), "reason": "bad_name: the file name is not valid UTF-8"})
                continue
            if not stat.S_ISREG(st.st_mode):
                mode = st.st_mode
                kind = "FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "special file"
                out.errors.append({"file": name, "reason": f"unreadable: a {kind}, not a regular file"})
            elif not os.access(entry.path, os.R_OK):
                out.errors.append({"file": name, "reason": "unreadable: permission denied"})
            else:
                out.files.append((os.fsdecode(entry.path), name))
    out.files.sort(key=lambda f: f[1])
    return out


def list_remote(fs: pafs.FileSystem, base: str) -> Listing:
    """List an object-store prefix (no links, FIFOs or undecodable names there)."""
    out = Listing()
    for info in fs.get_file_info(pafs.FileSelector(base, recursive=True)):
        if info.type != pafs.FileType.File:
            continue
        if info.base_name.startswith(".") or not info.base_name.endswith(SUFFIX):
            out.ignored += 1
            continue
        rel = info.path[len(base):].lstrip("/") if info.path.startswith(base) else info.base_name
        out.files.append((info.path, rel))
    out.files.sort(key=lambda f: f[1])
    return out
