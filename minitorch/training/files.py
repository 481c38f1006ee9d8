"""The files a training run writes: its paths checked before training starts, and every file
written atomically, so that a crash or a full disk leaves the previous version whole.

``write_atomically`` is the pattern of ``minitorch.save`` (``minitorch/serialization.py``): write a
temporary file in the destination's folder, flush and ``os.fsync`` it, ``os.replace`` it over the
destination (atomic on POSIX and Windows), then fsync the folder so the rename itself is durable.
A reader therefore sees the old file or the new one, never a part of either.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets

from .errors import UsageError


def write_atomically(path: str, write) -> None:
    """``write(fh)`` (a binary file) into a temporary file beside ``path``, then rename it over
    ``path``. On any failure the temporary file is removed, ``path`` is left as it was, and an
    ``OSError`` names ``path`` (not the temporary file)."""
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        while True:
            tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
            try:
                fd = os.open(tmp, flags, 0o666)  # 0o666 & ~umask, as open(path, "wb") would give
                break
            except FileExistsError:
                continue
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:
        raise type(e)(e.errno, e.strerror or str(e), path) from e
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_writable_folder(path: str, option: str) -> None:
    """Create the folder ``path`` if it is missing and prove that a file can be created in it,
    or raise a UsageError naming ``option`` and ``path``."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a file, not a folder",
                         hint=f"give {option} a folder (it is created if missing)")
    try:
        _create_a_file_in(path)
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot write there ({e.strerror or e})",
                         hint=f"give {option} a folder you can write to") from e


def check_writable_file(path: str, option: str) -> None:
    """``path`` is not a folder and its folder (created if missing) accepts new files; else a
    UsageError naming ``option`` and ``path``."""
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a folder, not a file",
                         hint=f"give {option} a file path, e.g. {os.path.join(path, 'last.mt')}")
    try:
        _create_a_file_in(os.path.dirname(os.path.abspath(path)))
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot write there ({e.strerror or e})",
                         hint=f"give {option} a path in a folder you can write to") from e


def _create_a_file_in(folder: str) -> None:
    """Make ``folder`` (and its parents) if needed, then create and remove an empty file in it:
    the one test of writability that holds for root, read-only mounts and ACLs alike."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is a file, not a folder", folder)
    os.makedirs(folder, exist_ok=True)
    probe = os.path.join(folder, f".minitorch-write-test-{secrets.token_hex(4)}")
    with open(probe, "xb"):
        pass
    os.unlink(probe)
