"""Tests for imbsk.datasets.tabular (Adult, Otto, Covertype loaders).

Adult and Otto are read from the real files in the shared data directory
(``$IMBSK_SHARED_DATA`` or ``<repo>/../shared/data``); expected numbers come
from that directory's README. Covertype is tested on a tiny file in the UCI
format written here. No test touches the network: downloads are monkeypatched.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from imbsk.datasets import _fetch, tabular
from imbsk.datasets.tabular import (
    ADULT_CSV_SHA256,
    ADULT_SHA256,
    COVTYPE_FEATURE_NAMES,
    DATASETS,
    OTTO_SHA256,
    SPLIT_SEED,
    load_adult,
    load_covertype,
    load_dataset,
    load_otto,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMBSK_SHARED_DATA") or REPO.parent / "shared" / "data")

ADULT_CAT = [
    "workclass", "education", "marital_status", "occupation",
    "relationship", "race", "sex", "native_country",
]
ADULT_NUM = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
OTTO_COUNTS = {
    "Class_1": 1929, "Class_2": 16122, "Class_3": 8004, "Class_4": 2691, "Class_5": 2739,
    "Class_6": 14135, "Class_7": 2839, "Class_8": 8464, "Class_9": 4955,
}


def _need(name: str) -> Path:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture(scope="module")
def adult() -> Bunch:
    _need("adult.csv.gz")
    return load_adult(SHARED, download=False)


@pytest.fixture(scope="module")
def otto() -> Bunch:
    _need("otto_train.csv.gz")
    return load_otto(SHARED, download=False)


def _assert_stratified(y_part: pd.Series, y_all: pd.Series) -> None:
    """Each class count in the part is within one row of n_part * p_class."""
    p = y_all.value_counts(normalize=True)
    got = y_part.value_counts().reindex(p.index, fill_value=0)
    assert np.all(np.abs(got - len(y_part) * p) <= 1.0), (got, len(y_part) * p)


# ---------------------------------------------------------------------------
# Adult
# ---------------------------------------------------------------------------
def test_adult_layout_and_dtypes(adult: Bunch) -> None:
    assert adult.frame.shape == (48842, 16)
    assert adult.data.shape == (48842, 14)
    assert "split" not in adult.data.columns and "income" not in adult.data.columns
    assert adult.categorical_features == ADULT_CAT
    assert adult.numerical_features == ADULT_NUM
    for c in ADULT_CAT:
        assert isinstance(adult.data[c].dtype, pd.CategoricalDtype), c
    for c in ADULT_NUM:
        assert adult.data[c].dtype == np.int64, c
    assert isinstance(adult.target.dtype, pd.CategoricalDtype)
    assert list(adult.target.cat.categories) == ["<=50K", ">50K"]
    assert adult.target_names == ["<=50K", ">50K"]
    # README: 8 + '?', 16, 7, 14 + '?', 6, 5, 2, 41 + '?' categories; '?' is NaN, not a level.
    n_levels = {c: len(adult.data[c].cat.categories) for c in ADULT_CAT}
    assert n_levels == {
        "workclass": 8, "education": 16, "marital_status": 7, "occupation": 14,
        "relationship": 6, "race": 5, "sex": 2, "native_country": 41,
    }
    assert "Adult" in adult.DESCR and adult.split_seed == SPLIT_SEED == 0
    # The first row of adult.data, as documented.
    first = adult.frame.iloc[0]
    assert (first["age"], first["workclass"], first["fnlwgt"], first["income"]) == (
        39, "State-gov", 77516, "<=50K"
    )


def test_adult_split_sizes_and_class_counts(adult: Bunch) -> None:
    assert (len(adult.X_train), len(adult.X_val), len(adult.X_test)) == (26048, 6513, 16281)
    for X, y in [(adult.X_train, adult.y_train), (adult.X_val, adult.y_val),
                 (adult.X_test, adult.y_test)]:
        assert X.index.equals(y.index)
        assert list(X.columns) == list(adult.data.columns)
    # Test = the original UCI test rows (they follow the 32,561 train rows).
    assert adult.X_test.index.equals(pd.RangeIndex(32561, 48842))
    assert (adult.frame.loc[adult.X_test.index, "split"] == "test").all()
    tv = adult.X_train.index.union(adult.X_val.index)
    assert len(adult.X_train.index.intersection(adult.X_val.index)) == 0
    assert tv.equals(pd.RangeIndex(0, 32561))

    y_tv = pd.concat([adult.y_train, adult.y_val])
    assert y_tv.value_counts().to_dict() == {"<=50K": 24720, ">50K": 7841}
    assert adult.y_test.value_counts().to_dict() == {"<=50K": 12435, ">50K": 3846}
    _assert_stratified(adult.y_train, y_tv)
    _assert_stratified(adult.y_val, y_tv)


def test_adult_missing_values(adult: Bunch) -> None:
    tv = pd.concat([adult.X_train, adult.X_val])
    na_tv = tv.isna().sum()
    na_test = adult.X_test.isna().sum()
    expected_tv = {"workclass": 1836, "occupation": 1843, "native_country": 583}
    expected_test = {"workclass": 963, "occupation": 966, "native_country": 274}
    assert na_tv[na_tv > 0].to_dict() == expected_tv
    assert na_test[na_test > 0].to_dict() == expected_test
    for c in expected_tv:
        assert "?" not in adult.data[c].cat.categories


def test_adult_as_arrays_is_the_same_deterministic_split(adult: Bunch) -> None:
    arr = load_adult(SHARED, download=False, as_frame=False)
    assert arr.frame is None
    assert isinstance(arr.X_val, np.ndarray) and arr.X_val.shape == (6513, 14)
    # Same seed -> same rows in the same order as the DataFrame load.
    assert np.array_equal(arr.y_val, adult.y_val.to_numpy())
    assert np.array_equal(arr.X_val[:, 0].astype(np.int64), adult.X_val["age"].to_numpy())


def test_adult_assembly_from_uci_originals_and_download(tmp_path, monkeypatch) -> None:
    src = _need("adult.csv.gz")
    # Rebuild the UCI originals from the file (inverse of the documented conversion) ...
    lines = gzip.decompress(src.read_bytes()).decode("ascii").split("\n")[1:-1]
    tr = [r.rsplit(",", 1)[0].replace(",", ", ") for r in lines if r.endswith(",train")]
    te = [r.rsplit(",", 1)[0].replace(",", ", ") + "." for r in lines if r.endswith(",test")]
    data_raw = ("\n".join(tr) + "\n\n").encode()
    test_raw = ("|1x3 Cross validator\n" + "\n".join(te) + "\n\n").encode()
    # ... which are byte-identical to UCI's (md5 from the README), so the forward
    # conversion below is tested against the real originals.
    assert hashlib.md5(data_raw).hexdigest() == "5d7c39d7b8804f071cdd1f2a7c460872"
    assert hashlib.md5(test_raw).hexdigest() == "35238206dfdf7f1fe215bbb874adecdc"
    csv = tabular._assemble_adult(data_raw, test_raw)
    assert hashlib.sha256(csv).hexdigest() == ADULT_CSV_SHA256

    served = {tabular.ADULT_URLS["train"]: data_raw, tabular.ADULT_URLS["test"]: test_raw}
    monkeypatch.setattr(tabular, "download_bytes", lambda url, *a, **k: served[url])
    X, y = load_adult(tmp_path / "cache", download=True, return_X_y=True)
    written = tmp_path / "cache" / "adult.csv.gz"
    # Our gzip differs from GNU gzip's, so only the decompressed digest matches;
    # verify=True (default) must accept it.
    assert _fetch.sha256_file(written) != ADULT_SHA256
    assert hashlib.sha256(gzip.decompress(written.read_bytes())).hexdigest() == ADULT_CSV_SHA256
    assert X.shape == (48842, 14) and int((y == ">50K").sum()) == 11687


def test_adult_download_refuses_changed_upstream_files(tmp_path, monkeypatch) -> None:
    served = b"39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K\n"
    monkeypatch.setattr(tabular, "download_bytes", lambda url, *a, **k: served)
    with pytest.raises(ValueError, match="the upstream files changed") as info:
        load_adult(tmp_path, download=True)
    assert ADULT_CSV_SHA256 in str(info.value)
    assert not (tmp_path / "adult.csv.gz").exists()



def test_adult_download_of_a_non_ascii_page_names_the_download(tmp_path, monkeypatch) -> None:
    # An HTML error page in UTF-8 failed as "'ascii' codec can't decode byte 0xe2", naming no download.
    served = "<html>Die Seite wurde verschoben \u2013 bitte</html>".encode()
    monkeypatch.setattr(tabular, "download_bytes", lambda url, *a, **k: served)
    with pytest.raises(ValueError, match="not the UCI text files.*nothing was written") as info:
        load_adult(tmp_path, download=True)
    assert tabular.ADULT_URLS["train"] in str(info.value) and str(tmp_path) in str(info.value)
    assert not (tmp_path / "adult.csv.gz").exists()

def test_adult_download_failure_explains_where_to_put_file(tmp_path, monkeypatch) -> None:
    def fail(url, *a, **k):
        raise OSError("simulated: no network")

    monkeypatch.setattr(tabular, "download_bytes", fail)
    with pytest.raises(FileNotFoundError, match="IMBSK_DATA") as info:
        load_adult(tmp_path, download=True)
    assert "download failed" in str(info.value) and str(tmp_path) in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_adult_checksum_mismatch(tmp_path) -> None:
    src = _need("adult.csv.gz")
    raw = bytearray(src.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "adult.csv.gz").write_bytes(bytes(raw))
    actual = hashlib.sha256(bytes(raw)).hexdigest()
    with pytest.raises(ValueError, match="adult.csv.gz") as info:
        load_adult(tmp_path, download=False)
    assert ADULT_SHA256 in str(info.value) and actual in str(info.value)


# ---------------------------------------------------------------------------
# Otto
# ---------------------------------------------------------------------------
def test_otto_layout_counts_and_split(otto: Bunch) -> None:
    assert otto.data.shape == (61878, 93)
    assert list(otto.data.columns) == [f"feat_{i}" for i in range(1, 94)]
    assert "id" not in otto.frame.columns
    assert (otto.data.dtypes == np.int64).all()
    assert int(otto.data.to_numpy().min()) == 0 and int(otto.data.to_numpy().max()) == 352
    assert list(otto.target.cat.categories) == list(OTTO_COUNTS)
    assert otto.target.value_counts().to_dict() == OTTO_COUNTS

    sizes = (len(otto.X_train), len(otto.X_val), len(otto.X_test))
    assert sizes == (39601, 9901, 12376)
    idx = [otto.X_train.index, otto.X_val.index, otto.X_test.index]
    assert sum(len(i) for i in idx) == len(idx[0].union(idx[1]).union(idx[2])) == 61878
    for X, y in [(otto.X_train, otto.y_train), (otto.X_val, otto.y_val),
                 (otto.X_test, otto.y_test)]:
        assert X.index.equals(y.index)
        _assert_stratified(y, otto.target)
        # Split rows are the frame's rows, not copies with shuffled labels.
        assert y.equals(otto.target.loc[y.index])


def test_otto_checksum_mismatch_and_missing(tmp_path) -> None:
    (tmp_path / "otto_train.csv.gz").write_bytes(gzip.compress(b"id,feat_1,target\n1,0,Class_1\n"))
    with pytest.raises(ValueError, match="otto_train.csv.gz") as info:
        load_otto(tmp_path)
    assert OTTO_SHA256 in str(info.value)
    with pytest.raises(FileNotFoundError, match="IMBSK_DATA"):
        load_otto(tmp_path / "empty", download=False)
    assert not (tmp_path / "empty").exists()


def _openml_like_otto(with_id: bool) -> tuple[pd.DataFrame, pd.Series]:
    """The shared file as fetch_openml(as_frame=True) would hand it over: float counts, category labels."""
    frame = pd.read_csv(_need("otto_train.csv.gz"))
    data = frame.drop(columns=["target"] if with_id else ["id", "target"]).astype(np.float64)
    return data, frame["target"].astype("category")


def _serve_openml(monkeypatch, data: pd.DataFrame, target: pd.Series) -> list[dict]:
    calls = []

    def fake_fetch_openml(**kwargs):
        calls.append(kwargs)
        return Bunch(data=data, target=target)

    monkeypatch.setattr(tabular, "fetch_openml", fake_fetch_openml)
    return calls


@pytest.mark.parametrize("with_id", [False, True])
def test_otto_download_from_openml_rebuilds_kaggle_file(tmp_path, monkeypatch, with_id) -> None:
    data, target = _openml_like_otto(with_id)
    if with_id:
        # A copy in another row order is put back in id order.
        shuffled = np.random.default_rng(0).permutation(len(data))
        data, target = data.iloc[shuffled], target.iloc[shuffled]
    calls = _serve_openml(monkeypatch, data, target)
    bunch = load_otto(tmp_path / "cache", download=True)
    assert calls[0]["data_id"] == tabular.OTTO_OPENML_ID
    assert calls[0]["data_home"] == str(tmp_path / "cache" / "openml")
    written = (tmp_path / "cache" / "otto_train.csv.gz").read_bytes()
    assert hashlib.sha256(gzip.decompress(written)).hexdigest() == tabular.OTTO_CSV_SHA256
    assert bunch.target.value_counts().to_dict() == OTTO_COUNTS
    assert (len(bunch.X_train), len(bunch.X_val), len(bunch.X_test)) == (39601, 9901, 12376)
    # Later loads read the cache, not the network.
    monkeypatch.setattr(tabular, "fetch_openml", None)
    assert load_otto(tmp_path / "cache").y_test.equals(bunch.y_test)


def test_otto_download_refuses_a_copy_that_differs_from_kaggle(tmp_path, monkeypatch) -> None:
    data, target = _openml_like_otto(with_id=False)
    # Without ids, another row order cannot be undone: the split would differ, so refuse.
    _serve_openml(monkeypatch, data.iloc[::-1], target.iloc[::-1])
    with pytest.raises(ValueError, match="differs from Kaggle's file") as info:
        load_otto(tmp_path, download=True)
    assert tabular.OTTO_CSV_SHA256 in str(info.value)
    assert not (tmp_path / "otto_train.csv.gz").exists()


def test_otto_download_failure_and_bad_layout(tmp_path, monkeypatch) -> None:
    def offline(**kwargs):
        # As fetch_openml does: its cache directories first, then the connection.
        (Path(kwargs["data_home"]) / "openml.org" / "api" / "v1").mkdir(parents=True)
        raise OSError("simulated: no network")

    monkeypatch.setattr(tabular, "fetch_openml", offline)
    with pytest.raises(FileNotFoundError, match="download from OpenML failed") as info:
        load_otto(tmp_path, download=True)
    assert "otto_train.csv.gz" in str(info.value)
    # The failed download leaves no directory behind, under a (mistyped) data home it created either.
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="download from OpenML failed"):
        load_otto(tmp_path / "typo" / "data", download=True)
    assert list(tmp_path.iterdir()) == []
    # A cache directory that existed keeps what it held.
    (tmp_path / "openml" / "kept").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="download from OpenML failed"):
        load_otto(tmp_path, download=True)
    assert (tmp_path / "openml" / "kept").is_dir()
    with pytest.raises(ValueError, match="93 Otto features"):
        tabular._otto_csv_from_openml(pd.DataFrame({"a": [1.0]}), pd.Series(["Class_1"]))
    with pytest.raises(ValueError, match="integer counts"):
        tabular._otto_csv_from_openml(pd.DataFrame(np.full((1, 93), 0.5)), pd.Series(["Class_1"]))
    with pytest.raises(ValueError, match="labels outside"):
        tabular._otto_csv_from_openml(pd.DataFrame(np.zeros((1, 93))), pd.Series(["Class_0"]))


# ---------------------------------------------------------------------------
# data home and registry
# ---------------------------------------------------------------------------
def test_data_home_resolution(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("IMBSK_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _fetch.get_data_home() == tmp_path / "home" / ".cache" / "imbsk"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _fetch.get_data_home() == tmp_path / "xdg" / "imbsk"
    # A relative XDG_CACHE_HOME is ignored (XDG base directory spec), not a cache below the working directory.
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert _fetch.get_data_home() == tmp_path / "home" / ".cache" / "imbsk"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert _fetch.get_data_home() == tmp_path / "home" / ".cache" / "imbsk"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("IMBSK_DATA", str(tmp_path / "env"))
    assert _fetch.get_data_home() == tmp_path / "env"
    assert _fetch.get_data_home(tmp_path / "arg") == tmp_path / "arg"
    # The env var is what a loader uses when data_home is None.
    with pytest.raises(FileNotFoundError, match="IMBSK_DATA") as info:
        load_adult(download=False)
    assert str(tmp_path / "env" / "adult.csv.gz") in str(info.value)



def test_data_home_without_a_home_directory_is_a_file_not_found_error(tmp_path, monkeypatch) -> None:
    # HOME unset for a uid without a passwd entry (containers), or ~name of no user: pathlib's bare
    # RuntimeError("Could not determine home directory.") escaped the command line as a traceback.
    import pwd

    def no_entry(uid):
        raise KeyError(uid)

    for name in ("IMBSK_DATA", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    with pytest.raises(FileNotFoundError, match="is HOME set.*IMBSK_DATA"):
        load_adult(download=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # an absolute cache needs no home directory
    assert _fetch.get_data_home() == tmp_path / "imbsk"
    monkeypatch.setenv("IMBSK_DATA", "~no-such-user-of-imbsk/data")
    with pytest.raises(FileNotFoundError, match="IMBSK_DATA"):
        _fetch.get_data_home()
    with pytest.raises(FileNotFoundError, match="data_home"):
        _fetch.get_data_home("~no-such-user-of-imbsk")

def test_registry(tmp_path) -> None:
    assert DATASETS == {"adult": load_adult, "otto": load_otto, "covertype": load_covertype}
    with pytest.raises(ValueError, match="adult.*covertype.*otto"):
        load_dataset("mnist")
    _write_covtype(tmp_path / "covtype.data.gz", _tiny_covtype())
    b = load_dataset("Covertype", data_home=tmp_path, download=False)
    assert b.data.shape == (700, 54)


# ---------------------------------------------------------------------------
# Covertype (tiny file in the public UCI format)
# ---------------------------------------------------------------------------
def _tiny_covtype() -> np.ndarray:
    rng = np.random.default_rng(0)
    X = rng.integers(0, 4000, size=(700, 54))
    y = np.repeat(np.arange(1, 8), 100)
    rng.shuffle(y)
    return np.column_stack([X, y])


def _write_covtype(path: Path, table: np.ndarray) -> None:
    text = "\n".join(",".join(map(str, row)) for row in table) + "\n"
    path.write_bytes(gzip.compress(text.encode()) if path.suffix == ".gz" else text.encode())


@pytest.mark.parametrize("name", ["covtype.data.gz", "covtype.data"])
def test_covertype_parses_uci_format(tmp_path, monkeypatch, name) -> None:
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    table = _tiny_covtype()
    _write_covtype(tmp_path / name, table)
    b = load_covertype(tmp_path, download=False)
    assert b.data.shape == (700, 54) and len(COVTYPE_FEATURE_NAMES) == 54
    assert list(b.data.columns) == COVTYPE_FEATURE_NAMES
    assert b.data.columns[0] == "Elevation" and b.data.columns[9] == "Horizontal_Distance_To_Fire_Points"
    assert b.data.columns[10] == "Wilderness_Area_0" and b.data.columns[-1] == "Soil_Type_39"
    assert (b.data.dtypes == np.int64).all() and b.target.dtype == np.int64
    assert b.target.name == "Cover_Type"
    np.testing.assert_array_equal(b.data.to_numpy(), table[:, :54])
    np.testing.assert_array_equal(b.target.to_numpy(), table[:, 54])
    assert b.source == str(tmp_path / name)
    # test = ceil(0.2*700) = 140, val = ceil(0.2*560) = 112, train = 448; 100 per class
    # so stratification gives exactly 20 / 16 / 64 per class.
    assert (len(b.X_train), len(b.X_val), len(b.X_test)) == (448, 112, 140)
    for y, k in [(b.y_train, 64), (b.y_val, 16), (b.y_test, 20)]:
        assert y.value_counts().sort_index().to_dict() == {c: k for c in range(1, 8)}


def test_covertype_split_rule_gives_paper_sizes() -> None:
    n_test = tabular._holdout_size(581012, tabular.TEST_FRACTION)
    n_val = tabular._holdout_size(581012 - n_test, tabular.VAL_FRACTION)
    assert (581012 - n_test - n_val, n_val, n_test) == (371847, 92962, 116203)
    n_test = tabular._holdout_size(61878, tabular.TEST_FRACTION)
    assert (n_test, tabular._holdout_size(61878 - n_test, tabular.VAL_FRACTION)) == (12376, 9901)
    assert tabular._holdout_size(32561, tabular.VAL_FRACTION) == 6513


def test_covertype_checks_and_outputs(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    path = tmp_path / "covtype.data.gz"
    _write_covtype(path, _tiny_covtype())
    digest = _fetch.sha256_file(path)
    assert load_covertype(tmp_path, download=False, sha256=digest).data.shape == (700, 54)
    with pytest.raises(ValueError, match="covtype.data.gz"):
        load_covertype(tmp_path, download=False, sha256="0" * 64)
    load_covertype(tmp_path, download=False, sha256="0" * 64, verify=False)

    X, y = load_covertype(tmp_path, download=False, return_X_y=True, as_frame=False)
    assert isinstance(X, np.ndarray) and X.shape == (700, 54) and set(np.unique(y)) == set(range(1, 8))
    a = load_covertype(tmp_path, download=False, as_frame=False)
    b = load_covertype(tmp_path, download=False)
    assert a.frame is None and np.array_equal(a.y_test, b.y_test.to_numpy())

    bad = _tiny_covtype()
    bad[0, 54] = 0
    _write_covtype(path, bad)
    with pytest.raises(ValueError, match="1..7"):
        load_covertype(tmp_path, download=False)
    _write_covtype(path, _tiny_covtype()[:, 1:])
    with pytest.raises(ValueError, match="55"):
        load_covertype(tmp_path, download=False)


def test_covertype_missing_sklearn_fallback_and_download(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    with pytest.raises(FileNotFoundError, match="IMBSK_DATA"):
        load_covertype(tmp_path / "a", download=False)
    # scikit-learn creates the data home it is asked about; a failed look-up must not.
    assert not (tmp_path / "a").exists() and not (tmp_path / "sk").exists()

    table = _tiny_covtype()
    (tmp_path / "sk").mkdir()  # the fake cache below stands for one in scikit-learn's default home
    import sklearn.datasets

    def fake_fetch(data_home=None, download_if_missing=True, **kw):
        assert download_if_missing is False
        return Bunch(data=table[:, :54].astype(np.float64), target=table[:, 54].astype(np.int32))

    monkeypatch.setattr(sklearn.datasets, "fetch_covtype", fake_fetch)
    b = load_covertype(tmp_path / "a", download=False)
    assert "sklearn" in b.source and b.data.dtypes.unique().tolist() == [np.int64]
    np.testing.assert_array_equal(b.target.to_numpy(), table[:, 54])
    with pytest.raises(FileNotFoundError):
        load_covertype(tmp_path / "a", download=False, sklearn_fallback=False)
    monkeypatch.undo()
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))

    # Download path with the network replaced by a served file.
    _write_covtype(tmp_path / "served.gz", table)
    payload = (tmp_path / "served.gz").read_bytes()
    seen = []
    monkeypatch.setattr(tabular, "download_bytes", lambda url, *a, **k: seen.append(url) or payload)
    b = load_covertype(tmp_path / "dl", download=True)
    assert seen == [tabular.COVTYPE_URL]
    assert (tmp_path / "dl" / "covtype.data.gz").read_bytes() == payload
    assert b.data.shape == (700, 54)

    def fail(url, *a, **k):
        raise OSError("simulated: no network")

    monkeypatch.setattr(tabular, "download_bytes", fail)
    with pytest.raises(FileNotFoundError, match="IMBSK_DATA"):
        load_covertype(tmp_path / "dl2", download=True)


def test_covertype_download_that_fails_its_checks_is_not_cached(tmp_path, monkeypatch) -> None:
    # An error page or a truncated transfer saved as covtype.data.gz would be found, and read, by every
    # later call (Covertype has no default checksum): it must be refused before anything is written.
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    _write_covtype(tmp_path / "served.gz", _tiny_covtype())
    good = (tmp_path / "served.gz").read_bytes()
    for payload, kwargs, message in [
        (b"<html>captive portal</html>", {}, "not a complete gzip file"),
        (good[: len(good) // 2], {}, "not a complete gzip file"),
        (good, {"sha256": "0" * 64}, "expected " + "0" * 64),
    ]:
        monkeypatch.setattr(tabular, "download_bytes", lambda url, *a, **k: payload)
        with pytest.raises(ValueError, match=message) as info:
            load_covertype(tmp_path / "dl", download=True, sklearn_fallback=False, **kwargs)
        assert "Nothing was written" in str(info.value)
        assert not (tmp_path / "dl" / "covtype.data.gz").exists()
    # verify=False skips the checksum, as for a local file.
    b = load_covertype(tmp_path / "dl", download=True, sklearn_fallback=False, sha256="0" * 64, verify=False)
    assert b.data.shape == (700, 54)


@pytest.mark.parametrize("damage", ["html", "truncated", "empty"])
def test_covertype_damaged_local_file_error_names_the_file(tmp_path, monkeypatch, damage) -> None:
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    path = tmp_path / "covtype.data.gz"
    _write_covtype(path, _tiny_covtype())
    blob = path.read_bytes()
    path.write_bytes({"html": b"<html></html>", "truncated": blob[: len(blob) // 2], "empty": b""}[damage])
    with pytest.raises(ValueError, match="truncated, corrupt or not in the UCI format") as info:
        load_covertype(tmp_path, download=False)
    assert str(path) in str(info.value) and tabular.COVTYPE_URL in str(info.value)


def test_data_home_that_is_a_file_is_named_as_such(tmp_path, monkeypatch) -> None:
    # Pointing data_home / IMBSK_DATA at the data file itself: the message said to "place it at
    # adult.csv.gz/adult.csv.gz", and a download went ahead only to fail with a bare "[Errno 17] File exists".
    from imbsk.datasets import cifar, load_cifar10

    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    a_file = tmp_path / "adult.csv.gz"
    a_file.write_bytes(b"")
    downloads = []
    monkeypatch.setattr(tabular, "download_bytes", lambda url, *a, **k: downloads.append(url) or b"")
    monkeypatch.setattr(cifar, "download_bytes", lambda url, *a, **k: downloads.append(url) or b"")
    monkeypatch.setattr(tabular, "fetch_openml", lambda *a, **k: downloads.append("openml"))
    for load in (load_adult, load_otto, load_covertype, load_cifar10):
        for download in (False, True):
            with pytest.raises(FileNotFoundError, match="is a file, not a directory") as info:
                load(a_file, download=download)
            assert "IMBSK_DATA" in str(info.value) and "/adult.csv.gz/" not in str(info.value)
    monkeypatch.setenv("IMBSK_DATA", str(a_file))
    with pytest.raises(FileNotFoundError, match="is a file, not a directory"):
        load_adult(download=False)
    assert downloads == []


def test_verify_sha256_takes_digests_in_either_case(tmp_path):
    # A digest copied from a tool that prints upper-case hex (e.g. PowerShell's Get-FileHash), as sha256= of
    # load_covertype, names the same file.
    csv = b"a,b\n1,2\n"
    path = tmp_path / "x.csv.gz"
    path.write_bytes(gzip.compress(csv, mtime=0))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _fetch.verify_sha256(path, digest.upper())
    _fetch.verify_sha256(path, "0" * 64, hashlib.sha256(csv).hexdigest().upper())
    with pytest.raises(ValueError, match="Checksum mismatch"):
        _fetch.verify_sha256(path, "0" * 64)


@pytest.mark.parametrize("loader, name", [(load_adult, "adult.csv.gz"), (load_otto, "otto_train.csv.gz")])
@pytest.mark.parametrize("damage", ["html", "truncated", "empty", "text in an int column"])
def test_damaged_file_read_unverified_error_names_the_file(tmp_path, loader, name, damage) -> None:
    # verify=False hands a damaged file to pandas, whose errors (EOFError, BadGzipFile) named no file.
    header = "age,workclass" if loader is load_adult else "id,feat_1"
    blob = gzip.compress(f"{header}\n1,2\n".encode() * 2000)
    content = {
        "html": b"<html>error</html>", "truncated": blob[: len(blob) // 2], "empty": b"",
        "text in an int column": gzip.compress(f"{header}\nabc,2\n".encode()),
    }[damage]
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match="truncated, corrupt or not in the expected format") as info:
        loader(tmp_path, download=False, verify=False)
    assert str(tmp_path / name) in str(info.value)


def test_covertype_sklearn_cache_of_another_shape_is_skipped(tmp_path, monkeypatch) -> None:
    # A damaged scikit-learn cache counts as absent, like one that fails to load: it used to escape
    # as pandas' "Must pass 2-d input" naming no file.
    import sklearn.datasets

    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    (tmp_path / "a").mkdir()
    for data, target in [(np.zeros(3), np.zeros(3)), (np.zeros((3, 5)), np.zeros(3)), (np.zeros((3, 54)), np.zeros(2))]:
        monkeypatch.setattr(sklearn.datasets, "fetch_covtype", lambda *a, **k: Bunch(data=data, target=target))
        with pytest.raises(FileNotFoundError, match="covtype.data.gz"):
            load_covertype(tmp_path / "a", download=False)


def test_covertype_sklearn_fallback_false_reads_no_sklearn_cache(tmp_path, monkeypatch) -> None:
    # The documented way to keep a data directory's scikit-learn pickles from being loaded.
    import sklearn.datasets

    (tmp_path / "covertype").mkdir()
    calls = []
    monkeypatch.setattr(sklearn.datasets, "fetch_covtype", lambda *a, **k: calls.append(k))
    with pytest.raises(FileNotFoundError):
        load_covertype(tmp_path, download=False, sklearn_fallback=False)
    assert calls == []


@pytest.mark.parametrize("error", [http.client.IncompleteRead(b"x" * 10, 990), http.client.BadStatusLine("?")])
def test_download_cut_short_is_an_os_error(monkeypatch, error) -> None:
    # A transfer the server closes early raises http.client.IncompleteRead, no OSError: it escaped
    # the loaders' "download failed" handling as a bare traceback.
    import urllib.request

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            raise error

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Response())
    with pytest.raises(OSError, match="Download of https://example.invalid/f failed"):
        _fetch.download_bytes("https://example.invalid/f")
