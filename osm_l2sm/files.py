"""Writing a file that other processes read (state, records, keys): all of it or nothing."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile


def write_atomic(path: str, data: bytes, mode: int = 0o644, durable: bool = False) -> None:
    """``data`` in ``path``, so that a reader (or a crash) sees the old content or the new, never part of it:
    written to a new file in the same folder, then renamed over ``path``. ``mode``: the file's permissions, set
    before anything is written (a key is never readable by others); ``durable``: the file and the rename are on disk
    (fsync of both) when this returns. A failed write leaves nothing behind."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_json_atomic(path: str, data, mode: int = 0o644, **dump_options) -> None:
    """``data`` as JSON in ``path``, all of it or nothing (:func:`write_atomic`). ``dump_options`` go to
    :func:`json.dumps` (e.g. ``indent``)."""
    write_atomic(path, json.dumps(data, **dump_options).encode("utf-8"), mode)
