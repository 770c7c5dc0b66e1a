"""Writing a file that other processes read (state, records): all of it or nothing."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile


def write_json_atomic(path: str, data, mode: int = 0o644, **dump_options) -> None:
    """``data`` as JSON in ``path``, so that a reader (or a crash) sees the old content or the new, never part of
    it: written to a new file in the same folder, then renamed over ``path``. ``mode``: the file's permissions;
    ``dump_options`` go to :func:`json.dump` (e.g. ``indent``). A failed write leaves nothing behind."""
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)
            json.dump(data, f, **dump_options)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
