"""Small file-handling helpers shared by the dataset loaders.

They resolve the data directory, check sha256 checksums, download with a
timeout and write files atomically. Nothing here knows about a particular
dataset.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from imbsk._files import atomic_write

__all__ = [
    "DATA_ENV_VAR",
    "DOWNLOAD_TIMEOUT",
    "get_data_home",
    "sha256_file",
    "verify_sha256",
    "download_bytes",
    "atomic_write",
    "missing_file_error",
    "not_a_directory",
]

#: Environment variable naming the directory that holds the dataset files.
DATA_ENV_VAR = "IMBSK_DATA"

#: Seconds a single blocking network operation may take before giving up.
DOWNLOAD_TIMEOUT = 60.0

_CHUNK = 1 << 20


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the directory in which dataset files are looked for.

    Resolution order: the ``data_home`` argument, else the environment variable
    ``IMBSK_DATA``, else ``$XDG_CACHE_HOME/imbsk`` (an absolute ``XDG_CACHE_HOME``: a relative
    one is ignored, as the XDG base directory specification says), else ``~/.cache/imbsk``.
    The directory is not created here; only a download creates it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit directory; ``~`` is expanded.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    FileNotFoundError
        A ``~`` to expand (or the default, with no ``XDG_CACHE_HOME``) names a home
        directory that cannot be determined: ``HOME`` unset for a user without one, or ``~name`` of no user.
    """
    if data_home is not None:
        return _expand(Path(data_home), "data_home")
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return _expand(Path(env), DATA_ENV_VAR)
    xdg = _expand(Path(os.environ.get("XDG_CACHE_HOME") or ""), "XDG_CACHE_HOME")
    # The XDG base directory spec has a relative XDG_CACHE_HOME ignored: taken as is, it would put the
    # cache below whatever directory a command runs in, and each one would download the data again.
    base = xdg if xdg.is_absolute() else _expand(Path("~"), "the default data directory ~/.cache/imbsk") / ".cache"
    return base / "imbsk"


def _expand(path: Path, what: str) -> Path:
    """``path.expanduser()``, a ``~`` that names no home directory an OSError that says what to set."""
    try:
        return path.expanduser()
    except RuntimeError:
        # HOME unset for a user without a passwd entry (a container run under an arbitrary uid), or
        # ~name of no user: pathlib's bare RuntimeError escaped the command line as a traceback.
        raise FileNotFoundError(
            f"{what} ({path}) names a home directory that cannot be determined (is HOME set?). Pass data_home=... "
            f"(--data-home on the command line) or set the environment variable {DATA_ENV_VAR} to the data directory."
        ) from None


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha256_gunzipped(path: Path) -> str | None:
    """sha256 of the decompressed content, or None if ``path`` is no valid gzip."""
    h = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                h.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return h.hexdigest()


def verify_sha256(
    path: str | os.PathLike[str],
    expected: str,
    expected_uncompressed: str | None = None,
) -> None:
    """Raise ``ValueError`` unless ``path`` has the expected sha256.

    The file passes if its own digest equals ``expected``. A gzip file that
    was recompressed (for example by our own downloader, whose gzip header
    differs from GNU ``gzip -9 -n``) still passes when the digest of its
    *decompressed* content equals ``expected_uncompressed``.

    Parameters
    ----------
    path : str or path-like
        File to check.
    expected : str
        Hex sha256 of the file itself.
    expected_uncompressed : str, default=None
        Hex sha256 of the decompressed content of a ``.gz`` file.

    Raises
    ------
    ValueError
        On a mismatch; the message names the file and both digests.
    """
    path = Path(path)
    actual = sha256_file(path)
    if actual == expected.lower():
        return
    if expected_uncompressed is not None:
        inner = _sha256_gunzipped(path)
        if inner == expected_uncompressed.lower():
            return
        raise ValueError(
            f"Checksum mismatch for {path}: expected sha256 {expected} "
            f"(or {expected_uncompressed} for the decompressed content), got {actual}"
            + (f" (decompressed: {inner})" if inner is not None else " (not a valid gzip file)")
            + ". The file is corrupt or a different version; replace it, or pass verify=False."
        )
    raise ValueError(
        f"Checksum mismatch for {path}: expected sha256 {expected}, got {actual}. "
        "The file is corrupt or a different version; replace it, or pass verify=False."
    )


def download_bytes(url: str, timeout: float = DOWNLOAD_TIMEOUT) -> bytes:
    """Fetch ``url`` with :mod:`urllib` and return the body.

    Raises
    ------
    OSError
        On any network or HTTP failure (``urllib.error.URLError`` is an
        ``OSError``; timeouts and truncated reads are converted).
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (fixed https URLs)
            return resp.read()
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        # A connection closed before Content-Length bytes came (IncompleteRead) or a garbled status
        # line is an http.client.HTTPException, no OSError: it escaped the loaders' "download failed".
        raise OSError(f"Download of {url} failed: {exc}") from exc


def not_a_directory(directory: Path) -> bool:
    """Whether ``directory`` exists as something other than a directory (so no dataset file can be in it)."""
    return directory.exists() and not directory.is_dir()


def missing_file_error(
    filename: str, directory: Path, source: str, reason: str | None = None
) -> FileNotFoundError:
    """Build the error raised when a dataset file is absent.

    The message says where the loader looked, where to put the file, and how
    to point the loader elsewhere (``data_home`` or ``IMBSK_DATA``).
    """
    if not_a_directory(directory):
        # Pointing data_home / IMBSK_DATA at the data file itself is an easy slip; "place it at
        # adult.csv.gz/adult.csv.gz" would not explain it.
        return FileNotFoundError(
            f"Dataset file {filename!r} not found: the data directory {directory} is a file, not a directory. "
            f"Pass data_home=... (--data-home on the command line) / set the environment variable {DATA_ENV_VAR} "
            f"to the directory that contains {filename}, not to a file."
        )
    msg = (
        f"Dataset file {filename!r} not found in {directory}"
        + (f" ({reason})" if reason else "")
        + f". Get it from {source} and place it at {directory / filename}, or pass "
        f"data_home=... (--data-home on the command line) / set the environment variable {DATA_ENV_VAR} to "
        "the directory that contains it."
    )
    return FileNotFoundError(msg)
