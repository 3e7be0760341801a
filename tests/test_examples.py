"""The scripts of examples/ at their smallest budgets: they run, write what they say, and fail with a reason.

The Adult / Otto / Covertype drivers are tested in test_tuning.py, optimizer_step.py in test_optimizers.py and
unsmoothing_floor.py in test_smoothing_inversion.py.
"""

from __future__ import annotations

import csv
import gzip
import os
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from imbsk.datasets import long_tailed_counts
from imbsk.datasets.cifar import CIFAR10_FILE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SHARED_DATA = Path(os.environ.get("IMBSK_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def _script(name: str, monkeypatch) -> dict:
    monkeypatch.syspath_prepend(str(EXAMPLES))  # the profiling scripts import their sibling _timing.py
    return runpy.run_path(str(EXAMPLES / f"{name}.py"))


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_page_faults_reports_why_a_child_fit_failed(tmp_path, monkeypatch, capsys):
    # A file that is not Otto's: the child's loader refuses it (no download is tried, the file is there).
    with gzip.open(tmp_path / "otto_train.csv.gz", "wt") as fh:
        fh.write("a,b\n1,2\n")
    script = _script("page_faults", monkeypatch)
    monkeypatch.setattr(sys, "argv", ["page_faults.py", "--data-home", str(tmp_path), "--rows", "50", "--pairs", "1"])
    assert script["main"]() == 1
    err = capsys.readouterr().err
    assert "otto_train.csv.gz" in err  # the child's own error, not only the command line that failed
    assert "the default fit of pair 0 failed" in err
