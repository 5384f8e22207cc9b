"""Paths that may be object-store URIs (s3://, gs://) or local paths, through pyarrow filesystems.

`os.path` treats `s3://bucket/x` as a local folder named `s3:`; everything that checks or writes a
storage path (fault markers, trial checkpoints, reports) goes through these instead.
"""

from __future__ import annotations

import os
import posixpath
import shutil

import pyarrow.fs as pafs


def is_uri(path: str) -> bool:
    return "://" in path


def resolve(path: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path within it) for a local path or a URI."""
    if is_uri(path):
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path))


def join(base: str, *parts: str) -> str:
    """Join like the base: "/" for URIs, the platform's separator for local paths."""
    return posixpath.join(base.rstrip("/"), *parts) if is_uri(base) else os.path.join(base, *parts)


def like(path: str, storage: str) -> str:
    """`path` as a URI of `storage`'s scheme: Ray reports paths within a filesystem (`bucket/key`)."""
    scheme = storage.split("://", 1)[0] if is_uri(storage) else ""
    if scheme and scheme != "file" and not is_uri(path):  # file:// paths are local paths already
        return f"{scheme}://{path.lstrip('/')}"
    return path


def exists(path: str) -> bool:
    fs, p = resolve(path)
    return fs.get_file_info(p).type != pafs.FileType.NotFound


def is_file(path: str) -> bool:
    fs, p = resolve(path)
    return fs.get_file_info(p).type == pafs.FileType.File


def write_text(path: str, text: str) -> None:
    """Write a small text file, creating the folders (a no-op on object stores) first."""
    fs, p = resolve(path)
    fs.create_dir(posixpath.dirname(p) if is_uri(path) else os.path.dirname(p), recursive=True)
    with fs.open_output_stream(p) as f:
        f.write(text.encode())


def local_copy(path: str, dest_dir: str) -> str:
    """The file as a local path: itself if local, else downloaded into `dest_dir`."""
    if not is_uri(path):
        return path
    fs, p = resolve(path)
    dest = os.path.join(dest_dir, posixpath.basename(p))
    with fs.open_input_stream(p) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
    return dest
