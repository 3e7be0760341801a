"""Keep freed CPU memory in the process, so large tensors stop costing page faults.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves a block
above its mmap threshold with a fresh ``mmap`` and returns it with ``munmap`` when
freed, and it hands the top of its heap back to the operating system once more
than the trim threshold lies free there. Both thresholds adapt to the sizes seen,
but a training step that allocates and frees the same few large blocks over and
over (weight-sized gradients, optimiser temporaries, bfloat16 weight copies under
autocast, activations) keeps crossing them, and each time the kernel faults in and
zeroes every 4 KiB page of the next block anew.

:func:`retain_freed_cpu_memory` fixes both thresholds with glibc's ``mallopt``::

    M_MMAP_THRESHOLD = mmap_threshold    (blocks up to it come from the heap)
    M_TRIM_THRESHOLD = trim_threshold    (free heap kept up to it)

so freed blocks are reused from the heap. The numbers computed do not change; only
where their memory comes from. The cost: the process keeps up to ``trim_threshold``
bytes of freed memory instead of returning it. Measured on the Otto benchmark's
network (docs/performance.md, "Freed memory and page faults"). The same effect as
starting Python with ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` set.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform

#: glibc's ``mallopt`` parameter numbers (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: The largest mmap threshold glibc accepts on 64-bit systems (``DEFAULT_MMAP_THRESHOLD_MAX``).
MAX_MMAP_THRESHOLD = 32 * 1024 * 1024
DEFAULT_TRIM_THRESHOLD = 1024 * 1024 * 1024
#: Environment variables through which the user has set glibc's thresholds already.
GLIBC_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def retain_freed_cpu_memory(
    mmap_threshold: int = MAX_MMAP_THRESHOLD, trim_threshold: int = DEFAULT_TRIM_THRESHOLD
) -> bool:
    """Make glibc keep freed blocks of up to ``mmap_threshold`` bytes for reuse.

    A process-wide setting: call it once, early, in a process that trains on the
    CPU (the ``imbsk`` command and the benchmark scripts do). It does nothing where
    the C library is not glibc, or where the user already chose either threshold
    through glibc's environment variables (``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_``), which then stay in force.

    Parameters
    ----------
    mmap_threshold : int, default=32 MiB
        Blocks up to this size come from the heap instead of their own ``mmap``;
        at most 32 MiB (glibc's limit on 64-bit systems).
    trim_threshold : int, default=1 GiB
        Free memory kept at the top of the heap before any is returned to the
        operating system.

    Returns
    -------
    applied : bool
        Whether both thresholds were set.
    """
    if not 0 < mmap_threshold <= MAX_MMAP_THRESHOLD:
        raise ValueError(f"mmap_threshold must be in (0, {MAX_MMAP_THRESHOLD}], got {mmap_threshold}")
    if not 0 < trim_threshold < 2**31:
        raise ValueError(f"trim_threshold must be in (0, 2**31), got {trim_threshold}")
    if any(name in os.environ for name in GLIBC_ENVIRONMENT):
        return False
    libc = _glibc()
    if libc is None:
        return False
    # Setting either threshold ends glibc's adaptation of both, so both are set.
    return bool(libc.mallopt(M_TRIM_THRESHOLD, trim_threshold)) and bool(
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
    )


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The process's glibc, or None on other C libraries and systems (looked up once)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        # The process's own symbols: glibc is already loaded, no library search needed.
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return libc
