"""The built distributions hold what their users need: CI and development install editable, so nothing else looks.

The wheel: every module of ``imbsk``, the license text, metadata equal to pyproject.toml and ``imbsk.__version__``,
the ``imbsk`` command. The sdist: what its own tests read (conftest.py and the helper modules, the docs pages and
examples they check), so that ``python -m pytest`` runs from an unpacked sdist. Both are built with the installed
setuptools into a copy of the sources (a build writes ``imbsk.egg-info`` and ``build/`` beside pyproject.toml).
"""

import email
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import imbsk

ROOT = Path(__file__).resolve().parents[1]
# What the sdist's tests read, besides the package itself.
TEST_INPUTS = ("tests", "docs", "examples")
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "imbsk", *TEST_INPUTS)


def _setuptools_builds() -> bool:
    """Whether the installed setuptools is one pyproject.toml's build-system accepts (``license`` as a string)."""
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 77


pytestmark = pytest.mark.skipif(not _setuptools_builds(), reason="needs setuptools>=77, the build backend (dev extra)")


def _files(directory: Path) -> set[str]:
    return {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = ROOT / name
        if not path.exists():
            continue  # a missing file fails the test that wants it, not the build
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    out = tmp_path_factory.mktemp("dist")
    built = {}
    for kind in ("sdist", "wheel"):
        done = subprocess.run(
            [sys.executable, "-c", f"from setuptools import build_meta; print(build_meta.build_{kind}({str(out)!r}))"],
            cwd=source, capture_output=True, text=True, check=True,
        )
        built[kind] = out / done.stdout.strip().splitlines()[-1]
    built["source"] = source
    return built


def test_sdist_holds_what_its_tests_read(dists):
    with tarfile.open(dists["sdist"]) as archive:
        prefix = f"imbsk-{imbsk.__version__}/"
        names = {n.removeprefix(prefix) for n in archive.getnames()}
    wanted = {f"{top}/{name}" for top in TEST_INPUTS for name in _files(dists["source"] / top)}
    wanted |= {"pyproject.toml", "README.md", "LICENSE"}
    assert sorted(wanted - names) == []
    assert {"tests/conftest.py", "tests/_doc_tables.py", "examples/configs/otto-mlp_sam_ls.json"} <= names


def test_wheel_holds_the_package_license_and_metadata(dists):
    info = f"imbsk-{imbsk.__version__}.dist-info"
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    package = {f"imbsk/{name}" for name in _files(dists["source"] / "imbsk")}
    assert sorted(package - names) == []
    # the package and its metadata only: no tests, docs or examples installed as top-level packages
    assert {n.split("/")[0] for n in names} == {"imbsk", info}
    assert f"{info}/licenses/LICENSE" in names
    assert metadata["Name"] == "imbsk"
    assert metadata["Version"] == imbsk.__version__
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().startswith("# imbsk\n")
    assert "imbsk = imbsk.cli:main" in entry_points
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert metadata["Requires-Python"] == project["requires-python"]
    required = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert required == project["dependencies"]
