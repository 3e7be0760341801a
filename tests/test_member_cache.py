"""Tests of imbsk.member_cache: the on-disk store of fitted models' probabilities."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from imbsk import member_cache
from imbsk.member_cache import MemberPredictions


def _member(n_val: int = 4, n_test: int = 3, n_classes: int = 3, seed: int = 0) -> MemberPredictions:
    rng = np.random.default_rng(seed)
    return MemberPredictions(
        val_proba=rng.dirichlet(np.ones(n_classes), size=n_val),
        test_proba=rng.dirichlet(np.ones(n_classes), size=n_test),
        fit_time=12.5,
        epochs=7,
    )


def test_saved_member_loads_back_unchanged(tmp_path):
    classes = np.array(["<=50K", ">50K", "rare"], dtype=object)
    path = member_cache.member_path(tmp_path / "store", "adult", "mlp", "abc", seed=3)
    assert path.name == "adult-mlp-abc-seed3.npz"
    assert member_cache.load_member(path, classes, n_val=4, n_test=3) is None
    member = _member()
    member_cache.save_member(path, member, classes)
    loaded = member_cache.load_member(path, classes, n_val=4, n_test=3)
    np.testing.assert_array_equal(loaded.val_proba, member.val_proba)
    np.testing.assert_array_equal(loaded.test_proba, member.test_proba)
    assert (loaded.fit_time, loaded.epochs) == (12.5, 7)
    # The temporary file was renamed into place, nothing else is left behind.
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_stored_file_gets_an_ordinary_file_mode(tmp_path):
    # mkstemp's 0o600 made a shared store unreadable to the other users of a group directory.
    umask = os.umask(0)
    os.umask(umask)
    path = tmp_path / "store" / "m.npz"
    member_cache.save_member(path, _member(), np.array([0, 1, 2]))
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_integer_labels_round_trip(tmp_path):
    path = tmp_path / "m.npz"
    member_cache.save_member(path, _member(), np.array([0, 1, 2]))
    assert member_cache.load_member(path, np.array([0, 1, 2]), n_val=4, n_test=3) is not None


@pytest.mark.parametrize("classes, n_val, n_test", [
    (np.array(["a", "b", "d"]), 4, 3),  # other labels
    (np.array(["a", "b", "c"]), 5, 3),  # other validation rows
    (np.array(["a", "b", "c"]), 4, 2),  # other test rows
    (np.array(["a", "b", "c", "d"]), 4, 3),  # other number of classes
])
def test_predictions_for_other_data_are_refused(tmp_path, classes, n_val, n_test):
    path = tmp_path / "m.npz"
    member_cache.save_member(path, _member(), np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match="other data"):
        member_cache.load_member(path, classes, n_val=n_val, n_test=n_test)


@pytest.mark.parametrize("damage", ["truncated", "empty", "not_npz", "missing_array"])
def test_unreadable_file_is_treated_as_absent_with_a_warning(tmp_path, damage):
    # Such a file holds no model to reuse: the caller refits and overwrites it, instead of a
    # BadZipFile / EOFError / KeyError traceback ending the whole evaluation.
    path = tmp_path / "m.npz"
    classes = np.array(["a", "b", "c"])
    member_cache.save_member(path, _member(), classes)
    content = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(content[: len(content) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "not_npz":
        path.write_text("not an archive")
    else:
        member = _member()
        np.savez(path, val_proba=member.val_proba, classes=classes)
    with pytest.warns(RuntimeWarning, match="cannot be read.*fitted anew"):
        assert member_cache.load_member(path, classes, n_val=4, n_test=3) is None
    # The refit's save replaces it, and the new file reads back.
    member_cache.save_member(path, _member(), classes)
    assert member_cache.load_member(path, classes, n_val=4, n_test=3) is not None


def test_data_digest_follows_values_columns_and_order_but_not_the_index():
    import pandas as pd

    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": pd.Series(["x", "y", "x"], dtype="str")})
    y = np.array([0, 1, 1])
    digest = member_cache.data_digest(X, y)
    assert digest == member_cache.data_digest(X.copy().set_axis([7, 8, 9]), y.copy())
    changed = X.copy()
    changed.loc[1, "a"] = 2.5
    assert member_cache.data_digest(changed, y) != digest
    assert member_cache.data_digest(X.rename(columns={"a": "c"}), y) != digest
    assert member_cache.data_digest(X.iloc[::-1], y) != digest
    assert member_cache.data_digest(X, y[::-1]) != digest
    assert member_cache.data_digest(y, X) != digest


def test_a_member_fitted_on_other_data_is_refused(tmp_path):
    classes = np.array([0, 1, 2])
    path = tmp_path / "m.npz"
    member_cache.save_member(path, _member(), classes, data="a" * 64)
    assert member_cache.load_member(path, classes, n_val=4, n_test=3, data="a" * 64) is not None
    assert member_cache.load_member(path, classes, n_val=4, n_test=3) is not None  # not asked: not checked
    with pytest.raises(ValueError, match="fitted on other data .* digest aaaaaaaaaaaa..., here bbbbbbbbbbbb..."):
        member_cache.load_member(path, classes, n_val=4, n_test=3, data="b" * 64)
    # A file written before digests were recorded is read whatever the data.
    member_cache.save_member(path, _member(), classes)
    assert member_cache.load_member(path, classes, n_val=4, n_test=3, data="b" * 64) is not None


def test_config_key_depends_on_every_value_and_not_on_key_order():
    config = {"dataset": "otto", "params": {"batch_size": 64, "hidden_layer_sizes": (1024, 1024)}, "max_epochs": 25}
    key = member_cache.config_key(config)
    assert len(key) == 16 and int(key, 16) >= 0
    reordered = {"max_epochs": 25, "params": {"hidden_layer_sizes": [1024, 1024], "batch_size": 64}, "dataset": "otto"}
    assert member_cache.config_key(reordered) == key
    assert member_cache.config_key(config | {"max_epochs": 26}) != key
    assert member_cache.config_key(config | {"params": {"batch_size": 128, "hidden_layer_sizes": (1024, 1024)}}) != key


def test_file_records_its_configuration_and_package_versions(tmp_path):
    path = tmp_path / "m.npz"
    config = {"dataset": "otto", "params": {"hidden_layer_sizes": (64, 64)}, "max_epochs": 3}
    member_cache.save_member(path, _member(), np.array([0, 1, 2]), config=config)
    loaded = member_cache.load_member(path, np.array([0, 1, 2]), n_val=4, n_test=3)
    # JSON turns the tuple into a list, the same form config_key hashes.
    assert loaded.config == {"dataset": "otto", "params": {"hidden_layer_sizes": [64, 64]}, "max_epochs": 3}
    assert member_cache.config_key(loaded.config) == member_cache.config_key(config)
    assert set(loaded.versions) == {"imbsk", "torch", "scikit-learn", "xgboost", "numpy"}
    assert loaded.versions["numpy"] == np.__version__
    assert member_cache.version_changes(loaded.versions) == {}
    assert loaded.machine == member_cache.machine_description()
    assert set(loaded.machine) == {"architecture", "cpu", "gpu"}
    assert member_cache.machine_changes(loaded.machine) == {}


def test_file_without_records_loads_and_reports_no_version_change(tmp_path):
    # The layout written before configurations and versions were recorded.
    path = tmp_path / "old.npz"
    member = _member()
    np.savez(path, val_proba=member.val_proba, test_proba=member.test_proba, classes=np.array(["0", "1", "2"]),
             fit_time=np.float64(1.0), epochs=np.int64(2))
    loaded = member_cache.load_member(path, np.array([0, 1, 2]), n_val=4, n_test=3)
    assert loaded.config is None and loaded.versions is None and loaded.machine is None
    np.testing.assert_array_equal(loaded.test_proba, member.test_proba)
    assert member_cache.version_changes(None) == {}
    assert member_cache.machine_changes(None) == {}


def test_version_changes_names_every_package_that_differs(monkeypatch):
    installed = {"imbsk": "0.2.0", "torch": "2.13.0", "scikit-learn": "1.7.0", "xgboost": "3.0.0", "numpy": "2.3.0"}
    monkeypatch.setattr(member_cache, "software_versions", lambda: installed)
    stored = installed | {"torch": "2.12.1", "xgboost": "2.1.0"}
    del stored["numpy"]
    assert member_cache.version_changes(stored) == {
        "torch": ("2.12.1", "2.13.0"), "xgboost": ("2.1.0", "3.0.0"), "numpy": ("unknown", "2.3.0"),
    }


def test_machine_changes_names_every_field_that_differs(monkeypatch):
    here = {"architecture": "x86_64", "cpu": "Intel(R) Xeon(R) Processor", "gpu": "none"}
    monkeypatch.setattr(member_cache, "machine_description", lambda: here)
    stored = {"architecture": "x86_64", "cpu": "Other CPU 1"}
    assert member_cache.machine_changes(stored) == {
        "cpu": ("Other CPU 1", "Intel(R) Xeon(R) Processor"), "gpu": ("unknown", "none"),
    }
