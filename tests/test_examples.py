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


def test_cifar10_lt_digits_run_writes_its_rows(tmp_path, monkeypatch, capsys):
    script = _script("cifar10_lt", monkeypatch)
    output = tmp_path / "digits.csv"
    argv = ["--dataset", "digits", "--epochs", "1", "--methods", "erm", "--imbalance-ratio", "0.1",
            "--threads", "1", "--output", str(output)]
    assert script["main"](argv) == 0
    (row,) = _rows(output)
    assert list(row) == script["COLUMNS"]
    assert (row["method"], row["architecture"], row["epochs"], row["device"]) == ("erm", "resnet8", "1", "cpu")
    assert 0 <= float(row["accuracy"]) <= 1 and float(row["fit_seconds"]) > 0
    assert f"wrote 1 rows to {output}" in capsys.readouterr().out


def test_cifar10_lt_reads_a_cifar_archive(tmp_path, monkeypatch):
    from test_cifar import PER_BATCH, _archive_bytes

    payload, _ = _archive_bytes(np.random.default_rng(0))
    (tmp_path / CIFAR10_FILE).write_bytes(payload)
    script = _script("cifar10_lt", monkeypatch)
    output = tmp_path / "cifar.csv"
    argv = ["--data-home", str(tmp_path), "--imbalance-ratio", "0.5", "--epochs", "1", "--methods", "erm",
            "--architecture", "resnet8", "--batch-size", "16", "--threads", "1", "--output", str(output)]
    assert script["main"](argv) == 0
    (row,) = _rows(output)
    # 5 batches of PER_BATCH images, 10 classes: PER_BATCH // 2 images per class before the long tail.
    assert int(row["n_train"]) == long_tailed_counts(5 * PER_BATCH // 10, 10, 0.5).sum()
    assert (row["dataset"], row["augmentation"], row["mixing"]) == ("cifar10", "trivialaugment", "cutmix")


def test_cifar10_lt_without_the_archive_says_so_and_exits_2(tmp_path, monkeypatch, capsys):
    import imbsk.datasets.cifar as cifar

    def offline(url: str) -> bytes:
        raise OSError("offline")

    monkeypatch.setattr(cifar, "download_bytes", offline)
    script = _script("cifar10_lt", monkeypatch)
    output = tmp_path / "none.csv"
    assert script["main"](["--data-home", str(tmp_path), "--epochs", "1", "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert "data is not available, so nothing was run" in err and CIFAR10_FILE in err
    assert not output.exists()


def test_cifar10_lt_run_stopped_part_way_keeps_the_rows_it_finished(tmp_path, monkeypatch):
    script = _script("cifar10_lt", monkeypatch)
    estimator = script["ImbalancedCNNClassifier"]
    built = []

    def stopped_at_the_second_fit(*args, **kwargs):
        built.append(kwargs["random_state"])
        if len(built) == 2:
            raise KeyboardInterrupt
        return estimator(*args, **kwargs)

    script["main"].__globals__["ImbalancedCNNClassifier"] = stopped_at_the_second_fit
    output = tmp_path / "part.csv"
    with pytest.raises(KeyboardInterrupt):
        script["main"](["--dataset", "digits", "--epochs", "1", "--methods", "erm", "--imbalance-ratio", "0.1",
                        "--seeds", "0", "1", "--output", str(output)])
    assert [row["seed"] for row in _rows(output)] == ["0"]


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


def test_overhead_prints_every_ratio(monkeypatch, capsys):
    script = _script("overhead", monkeypatch)
    monkeypatch.setattr(sys, "argv", ["overhead.py", "--rows", "300", "--epochs", "1", "--hidden", "16",
                                      "--repeats", "1"])
    script["main"]()
    out = capsys.readouterr().out
    for label in ("hand-written loop", "ImbalancedMLPClassifier.fit", "of which training epochs",
                  "SAM (uniform rho)", "SAM-A (per-class rho)", "SAM-A, faithful step"):
        assert label in out


def test_profile_cnn_fit_times_the_augmentations(monkeypatch, capsys):
    script = _script("profile_cnn_fit", monkeypatch)
    monkeypatch.setattr(sys, "argv", ["profile_cnn_fit.py", "--augment-only", "--repeats", "1"])
    script["main"]()
    out = capsys.readouterr().out
    assert "median of 5" in out  # --augment-only takes at least 5 repeats
    assert all(f"{name} " in out for name in ("flip_crop", "trivialaugment", "autoaugment"))


@pytest.mark.skipif(not (SHARED_DATA / "adult.csv.gz").is_file(), reason="Adult file not available")
def test_profile_fit_times_and_saves_the_configurations_asked_for(tmp_path, monkeypatch, capsys):
    script = _script("profile_fit", monkeypatch)
    monkeypatch.setattr(sys, "argv", ["profile_fit.py", "--data-home", str(SHARED_DATA), "--configs", "erm_b256",
                                      "--repeats", "1", "--save-proba", str(tmp_path)])
    script["main"]()
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("erm_b256")]
    assert line.endswith("s   (" + line.split()[1] + ")")  # the median of one run is that run
    assert np.load(tmp_path / "erm_b256.npy").shape == (2000, 2)


def test_cifar10_lt_refuses_a_thread_count_below_one(monkeypatch):
    # --threads 0 was skipped silently (a falsy count), running with torch's default threads.
    script = _script("cifar10_lt", monkeypatch)
    with pytest.raises(SystemExit, match="--threads must be a positive number of threads; got 0"):
        script["main"](["--dataset", "digits", "--threads", "0"])
