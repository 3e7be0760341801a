"""File helpers: atomic writes (data loaders, member store) and the check of a command's output directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# mkstemp creates its file with mode 0o600 whatever the umask, so a renamed file would be
# private to its writer: a shared data cache or model store would be unreadable to the
# other users of a group directory. Files get the mode open() would give them instead.
# The umask is read once, at import: reading it means setting it, which is not thread-safe.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and :func:`os.replace`.

    A crash or a concurrent reader never sees a half-written file (a truncated file
    would otherwise be read, or cached, as if whole). The parent directory is created
    if needed; the file gets the mode of an ordinary new file (``0o666`` less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_output_directory(out: str | os.PathLike[str], flag: str = "--out", *, writable: bool = True) -> None:
    """Refuse an output directory that cannot become a writable directory, before any fitting.

    The commands write their reports after every run; an unusable path found only then would
    throw the whole run away. Nothing is created here, so bad input leaves no empty directory
    behind. ``writable=False`` checks only that ``out`` is or can become a directory (a store
    that is only read may be read-only).

    Raises
    ------
    ValueError
        ``out`` is a file, lies below a file, or (``writable``) its nearest existing ancestor is
        not writable.
    """
    path = Path(out).absolute()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {out} is a file, not a directory.")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{flag} {out} cannot be created: {existing} is a file, not a directory.")
    if not writable:
        return
    try:
        # A real attempt: permission bits do not bind root, and some file systems (/proc) refuse anyway.
        with tempfile.TemporaryDirectory(dir=existing, prefix=".imbsk-write-probe-"):
            pass
    except OSError as error:
        raise ValueError(f"{flag} {out} is not writable: {error.strerror or error} in {existing}.") from None
