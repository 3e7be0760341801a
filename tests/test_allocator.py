"""retain_freed_cpu_memory: glibc keeps freed tensor memory, the CLI turns it on, nothing else changes."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from imbsk.training import allocator
from imbsk.training.allocator import retain_freed_cpu_memory

ON_GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# In a fresh process: how far a 20 MB tensor moves glibc's program break (0 when the block gets its own
# mmap), then the minor page faults of allocating and freeing three 6 MB tensors 20 times (4,400 pages a
# round), after a first such round that lets glibc adapt its thresholds.
PROBE = """
import ctypes, json, resource, sys, torch
from imbsk.training.allocator import retain_freed_cpu_memory
applied = retain_freed_cpu_memory() if sys.argv[1] == "retain" else None
libc = ctypes.CDLL("libc.so.6")
libc.sbrk.restype, libc.sbrk.argtypes = ctypes.c_void_p, (ctypes.c_ssize_t,)
before = libc.sbrk(0)
block = torch.ones(5_000_000)
heap_growth = libc.sbrk(0) - before
del block
def churn():
    for _ in range(20):
        blocks = [torch.ones(1_500_000) for _ in range(3)]
        del blocks
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"applied": applied, "heap_growth": heap_growth, "faults": faults}))
"""
CHURN_PAGES = 20 * 3 * 1_500_000 * 4 // 4096


def _probe(mode: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not ON_GLIBC, reason="mallopt is glibc's")
def test_large_blocks_come_from_the_heap_and_freed_ones_are_reused():
    default, retained = _probe("default"), _probe("retain")
    assert retained["applied"] is True
    # glibc's default serves a 20 MB block with its own mmap; retained, it comes from the heap.
    assert default["heap_growth"] < 2**20
    assert retained["heap_growth"] >= 16 * 2**20
    # Without it, glibc hands such blocks back to the system in about half of all processes (where the
    # heap lies decides) and faults every page in again, round after round; with it, never.
    assert retained["faults"] < CHURN_PAGES / 100


def test_user_settings_in_the_environment_win(monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    calls = []
    monkeypatch.setattr(allocator, "_glibc", lambda: calls.append(1))
    assert retain_freed_cpu_memory() is False
    assert calls == []


def test_other_c_libraries_are_left_alone(monkeypatch):
    for name in allocator.GLIBC_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    allocator._glibc.cache_clear()
    try:
        assert allocator._glibc() is None
        assert retain_freed_cpu_memory() is False
    finally:
        allocator._glibc.cache_clear()


def test_both_thresholds_are_set(monkeypatch):
    for name in allocator.GLIBC_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)

    class FakeLibc:
        def __init__(self):
            self.calls = []

        def mallopt(self, parameter, value):
            self.calls.append((parameter, value))
            return 1

    libc = FakeLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    assert retain_freed_cpu_memory(mmap_threshold=1 << 20, trim_threshold=1 << 28) is True
    assert sorted(libc.calls) == sorted([(allocator.M_MMAP_THRESHOLD, 1 << 20), (allocator.M_TRIM_THRESHOLD, 1 << 28)])


@pytest.mark.parametrize(
    "kwargs, name",
    [({"mmap_threshold": 0}, "mmap_threshold"), ({"mmap_threshold": 64 << 20}, "mmap_threshold"),
     ({"trim_threshold": -1}, "trim_threshold"), ({"trim_threshold": 1 << 31}, "trim_threshold")],
)
def test_bad_thresholds_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        retain_freed_cpu_memory(**kwargs)


def test_the_command_line_turns_it_on(monkeypatch, capsys):
    from imbsk import cli

    calls = []
    monkeypatch.setattr(cli, "retain_freed_cpu_memory", lambda: calls.append(1) or True)
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert calls == [1]


def test_the_benchmark_scripts_turn_it_on(monkeypatch):
    from imbsk.tuning import commands

    calls = []
    monkeypatch.setattr(commands, "retain_freed_cpu_memory", lambda: calls.append(1) or True)
    with pytest.raises(SystemExit):
        commands.benchmark_main("adult", ["--help"])
    assert calls == [1]
