"""README.md, docs/mlp_classifier.md and the technique pages stay true: their python blocks run, the MLP's defaults
table is the constructor's, and the docstring examples (``>>>``) print what they say.

Each page's blocks run in order in one namespace that holds only the reader's data (``X_train``, ``y_train``, ...:
a small imbalanced table), so a block that uses a name no earlier block of its page defines fails, as it would for a
reader pasting the page. Every fit trains two epochs; the estimators are still built and validated with the page's
parameters. docs/cnn_classifier.md and docs/tuning.md have their own tests (test_docs_examples.py,
test_docs_tuning.py).
"""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.datasets import make_classification
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.model_selection import GridSearchCV
from sklearn.utils import Bunch

import imbsk.datasets
from imbsk import ImbalancedMLPClassifier
from imbsk.cli import build_parser
from imbsk.estimators.base import BaseImbalancedClassifier, check_device_form

from _doc_tables import assert_shown_default

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TEST_EPOCHS = 2


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def _keep_expressions(code: str) -> ast.Module:
    """``code`` with each top-level expression's value kept in a variable, so that an estimator a page only
    constructs (``ImbalancedMLPClassifier(joint_ssl_weight=0.1)``) can be validated too."""
    tree = ast.parse(code)
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.Expr):
            target = ast.Name(id=f"_expression_{id(node)}", ctx=ast.Store())
            tree.body[index] = ast.copy_location(ast.Assign(targets=[target], value=node.value), node)
    return ast.fix_missing_locations(tree)


def _run(path: Path, blocks: list[str], namespace: dict) -> dict:
    for index, code in enumerate(blocks):
        try:
            tree = _keep_expressions(code)
            exec(compile(tree, f"{path.name} [python block {index + 1}]", "exec"), namespace)  # noqa: S102
        except Exception as error:
            raise AssertionError(f"{path.name}, python block {index + 1} failed with {error!r}:\n{code}") from error
    return namespace


def _reader_data(frame: bool = False) -> dict:
    """What the pages assume the reader has: a small imbalanced binary table, split three ways (with ``frame``,
    a DataFrame with a categorical column)."""
    X, y = make_classification(n_samples=240, n_features=5, weights=[0.8, 0.2], random_state=0)
    if frame:
        X = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
        X["shade"] = pd.Categorical(np.where(X["x4"] > 0, "dark", "light"))
        X = {"X_train": X.iloc[:160], "X_val": X.iloc[160:200], "X_test": X.iloc[200:]}
    else:
        X = {"X_train": X[:160], "X_val": X[160:200], "X_test": X[200:]}
    return {
        **X, "y_train": y[:160], "y_val": y[160:200], "y_test": y[200:], "w": np.linspace(0.5, 1.5, 160),
    }


def _check_estimators(namespace: dict) -> list[ImbalancedMLPClassifier]:
    found = {id(value): value for value in namespace.values() if isinstance(value, ImbalancedMLPClassifier)}
    estimators = list(found.values())  # `clf.fit(...)` kept as an expression is clf once more
    for estimator in estimators:
        estimator._validate_params()
        check_device_form(estimator.device, "ImbalancedMLPClassifier")
    return estimators


@pytest.fixture
def short_fits(monkeypatch):
    make_net = BaseImbalancedClassifier._make_net

    def short_net(self, *args, **kwargs):
        net = make_net(self, *args, **kwargs)
        return net.set_params(max_epochs=min(net.max_epochs, TEST_EPOCHS))

    monkeypatch.setattr(BaseImbalancedClassifier, "_make_net", short_net)


@pytest.mark.parametrize("page", ["sam_asymmetric.md", "class_smoothing.md", "joint_ssl.md"])
def test_technique_page_examples_run(short_fits, page):
    path = DOCS / page
    blocks = _python_blocks(path)
    assert blocks
    namespace = _run(path, blocks, _reader_data())
    assert _check_estimators(namespace)
    if page == "class_smoothing.md":
        clf = namespace["clf"]  # the fitted model the page switches to undone smoothing
        assert clf.invert_smoothing and clf.class_smoothing_eps_.shape == (2,)
        assert clf.class_smoothing_eps_[1] > clf.class_smoothing_eps_[0] == 0.05  # the minority class smoothed more


def test_readme_mlp_example_runs(short_fits):
    blocks = [code for code in _python_blocks(ROOT / "README.md") if "ImbalancedMLPClassifier" in code]
    assert len(blocks) == 1
    namespace = _run(ROOT / "README.md", blocks, _reader_data())
    (clf,) = _check_estimators(namespace)
    assert clf.n_iter_ == TEST_EPOCHS and clf.joint_ssl_weight == 0.1


def test_mlp_doc_examples_run(short_fits, monkeypatch):
    real_load_adult = imbsk.datasets.load_adult
    data = _reader_data(frame=True)

    def load_adult(*args, **kwargs):
        inspect.signature(real_load_adult).bind(*args, **kwargs)  # the page's arguments are the loader's
        return Bunch(X_train=data["X_train"], y_train=data["y_train"], X_test=data["X_test"], y_test=data["y_test"])

    monkeypatch.setattr(imbsk.datasets, "load_adult", load_adult)
    path = DOCS / "mlp_classifier.md"
    blocks = _python_blocks(path)
    assert len(blocks) >= 4
    namespace = _run(path, blocks, dict(data))
    _check_estimators(namespace)
    assert len(namespace["ensemble"].estimators_) == 5
    # The metadata-routing example: weighted fits and scores. Its score request is needed: the page said to request
    # the fit's weights alone, and that search raises before fitting anything.
    search = namespace["search"]
    assert search.best_estimator_.get_metadata_routing().fit.requests["sample_weight"] is True
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(ImbalancedMLPClassifier().set_fit_request(sample_weight=True), {"max_iter": [1]}, cv=3)
        with pytest.raises(UnsetMetadataPassedError, match="score"):
            search.fit(data["X_train"], data["y_train"], sample_weight=data["w"])
    # The fitted attributes the page lists.
    text = path.read_text(encoding="utf-8")
    listed = text.split("Fitted attributes:")[1].split("\n\n")[0]
    clf = namespace["clf"]
    for name in re.findall(r"`(\w+_)`", listed):
        assert hasattr(clf, name), name


def _cells(values: str) -> list[str]:
    """The comma-separated defaults of one table cell, a tuple such as ``(256, 256)`` kept whole."""
    return [value.strip() for value in re.split(r",\s*(?![^()]*\))", values)]


def test_mlp_doc_defaults_table_matches_the_signature():
    """Each ``| `param`, ... | default, ... |`` row of docs/mlp_classifier.md gives the constructor's defaults."""
    text = (DOCS / "mlp_classifier.md").read_text(encoding="utf-8")
    table = text.split("| parameter | default | source / reason |")[1].split("\n\n")[0]
    defaults = ImbalancedMLPClassifier().get_params()
    checked = set()
    for names, values in re.findall(r"^\| ([^|]+) \| ([^|]+) \|", table, flags=re.M):
        names = re.findall(r"`(\w+)`", names)  # `num_embedding='piecewise'`, `n_bins`: only n_bins is a default
        values = _cells(values)
        if not names:
            continue
        assert len(names) == len(values), (names, values)
        for name, shown in zip(names, values):
            assert name in defaults, name
            assert_shown_default(name, shown, defaults[name])
            checked.add(name)
    # The rows the page has: every parameter of the training routine and of the techniques.
    assert len(checked) >= 30 and {"n_bins", "hidden_layer_sizes", "loss", "precision"} <= checked


#: Modules whose public docstrings carry ``>>>`` examples; the test fails when one is added elsewhere unlisted.
DOCTEST_MODULES = [
    "imbsk.datasets.digits",
    "imbsk.datasets.long_tail",
    "imbsk.estimators.cnn",
    "imbsk.estimators.mlp",
    "imbsk.metrics",
    "imbsk.preprocessing.tabular",
]


def test_mlp_doc_wide_table_sizes_are_the_networks():
    # docs/mlp_classifier.md warns what a wide table costs; its parameter counts are those of the network.
    from imbsk.models.tabular import TabularMLP

    def size(*args, **kwargs):
        return sum(p.numel() for p in TabularMLP(*args, **kwargs).parameters())

    text = " ".join((DOCS / "mlp_classifier.md").read_text().split())
    per_column = size(2, [], 2) - size(1, [], 2)
    assert f"{per_column:,} in all" in text
    assert f"each numeric column has {per_column - 24 * 256:,} embedding parameters" in text
    assert f"columns make a network of {size(2000, [], 2) / 1e6:.1f} million parameters" in text
    assert f"{size(2000, [], 2, num_embedding='none') / 1e6:.2f} million with `'none'`" in text


def test_docstring_examples_print_what_they_say(short_fits):
    with_examples = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "imbsk").rglob("*.py")
        if ">>>" in path.read_text(encoding="utf-8")
    )
    assert with_examples == DOCTEST_MODULES
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    for name in DOCTEST_MODULES:
        result = doctest.testmod(importlib.import_module(name), optionflags=flags)
        assert result.attempted > 0 and result.failed == 0, name


def _shell_commands(text: str) -> list[list[str]]:
    """The commands of a page's ```bash blocks as argument lists: continuation lines joined, comments dropped, a
    quoted argument spanning lines kept whole, split at ``&&``, ``;`` and ``|``."""
    commands = []
    for block in re.findall(r"^```bash[ \t]*\n(.*?)^```[ \t]*$", text, flags=re.S | re.M):
        pending = ""
        for line in block.replace("\\\n", " ").splitlines():
            pending = f"{pending}\n{line}" if pending else line
            lexer = shlex.shlex(pending, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            try:
                tokens = list(lexer)
            except ValueError:  # an open quote: the argument goes on on the next line
                continue
            pending = ""
            command: list[str] = []
            for token in tokens + [";"]:
                if token in ("&&", ";", "|", "||"):
                    if command:
                        commands.append(command)
                    command = []
                else:
                    command.append(token)
    return commands


def _imbsk_arguments(tokens: list[str]) -> list[str] | None:
    """The arguments after ``imbsk`` (or ``python -m imbsk``), past environment settings and ``nice -n N``."""
    while tokens and (re.fullmatch(r"[A-Z_]+=\S*", tokens[0]) or tokens[0] == "nice"):
        tokens = tokens[3:] if tokens[0] == "nice" else tokens[1:]
    if tokens[:3] == ["python", "-m", "imbsk"]:
        tokens = tokens[2:]
    return tokens[1:] if tokens[:1] == ["imbsk"] else None


def test_doc_commands_parse():
    """Every complete ``imbsk`` command of the pages' shell blocks parses (options renamed or dropped fail)."""
    parsed = 0
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for command in _shell_commands(path.read_text(encoding="utf-8")):
            arguments = _imbsk_arguments(command)
            # A template (``--seeds K``, ``CONFIG.json``, ``...``) or a help request is not a command to parse.
            if arguments is None or "--help" in arguments or any(
                "..." in token or re.search(r"\b[A-Z]{1,6}\b", token) for token in arguments
            ):
                continue
            try:
                build_parser(arguments).parse_args(arguments)
            except SystemExit as error:
                raise AssertionError(f"{path.name}: `{shlex.join(command)}` does not parse") from error
            parsed += 1
    assert parsed >= 40


def test_doc_config_files_exist():
    """Every ``examples/configs/NAME.json`` a page names (commands, tables, prose) is a shipped file: a renamed or
    dropped configuration must not leave commands behind that fail (``test_doc_commands_parse`` does not open them)."""
    named = set()
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        named.update(re.findall(r"examples/configs/([\w.-]+\.json)", path.read_text(encoding="utf-8")))
    named.discard("CONFIG.json")  # the pages' placeholder
    assert len(named) >= 8
    assert sorted(name for name in named if not (ROOT / "examples" / "configs" / name).is_file()) == []


def _section_titles(text: str) -> list[str]:
    """A page's headings and paragraph leads (``Ensembles:``, ``**Seeds.**``), outside code blocks."""
    prose = re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.S | re.M)
    headings = re.findall(r"^#+ +(.+?)\s*$", prose, flags=re.M)
    leads = re.findall(r"^(?:\*\*)?([A-Z][^:*\n]{0,60})(?::|\.?\*\*)", prose, flags=re.M)
    return headings + leads


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_doc_links_and_named_sections_exist():
    """Every relative link of README.md and docs/*.md names a file that exists (and a heading, with ``#anchor``), and
    every section a page cites by name after a link (``[benchmarks.md](benchmarks.md), "Eighth run"``) is a heading
    or a paragraph lead of that page: a renamed file or section must not leave references behind."""
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    titles = {path.resolve(): _section_titles(path.read_text(encoding="utf-8")) for path in pages}
    broken, checked = [], 0
    for path in pages:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"\]\(([^)\s]+)\)(?:,? *\(?\"([^\"]+)\")?", text):
            link, section = match.groups()
            if re.match(r"[a-z]+:", link):
                continue  # a URL
            target, _, anchor = link.partition("#")
            resolved = (path.parent / target).resolve() if target else path.resolve()
            checked += 1
            if not resolved.exists():
                broken.append(f"{path.name}: {link} (no such file)")
            elif anchor and anchor not in {_anchor(title) for title in titles.get(resolved, [])}:
                broken.append(f"{path.name}: {link} (no such heading)")
            elif section and resolved in titles:
                section = " ".join(section.split())  # cited across a line break
                if not any(title.lower().startswith(section.lower()) for title in titles[resolved]):
                    broken.append(f"{path.name}: {link}, {section!r} (no such section)")
    assert checked >= 50
    assert broken == []
