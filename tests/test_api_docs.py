"""The public API's docstrings say what the code does: parameters, defaults, options, type hints.

For every public class and function of imbsk (the names of each module's ``__all__``, or its public
definitions where it has none) whose docstring has a numpydoc ``Parameters`` section:

* every documented parameter is one of the signature's, and every signature parameter is documented;
* a documented ``default=...`` is the signature's default (a literal, a module constant such as
  ``BATCH_SIZES``, ``all of METHODS`` or a size such as ``32 MiB``);

for the estimators, the ``{...}`` options and ``None`` of each parameter's type line are those its
``_parameter_constraints`` accept; and every name an ``__all__`` lists exists, every function and
method of an exported name carries type hints.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sklearn.utils._param_validation import StrOptions

import imbsk
from imbsk import ImbalancedCNNClassifier, ImbalancedMLPClassifier

MODULES = sorted(["imbsk", *(info.name for info in pkgutil.walk_packages(imbsk.__path__, "imbsk."))])

#: Parameters a docstring deliberately leaves to the functions it passes them to: ``{qualified name:
#: (parameters, the functions that document them)}``.
DOCUMENTED_ELSEWHERE: dict[str, tuple[set[str], tuple[str, ...]]] = {
    "imbsk.training.net.ImbalanceNet": ({"module"}, ("skorch.NeuralNet",)),
    "imbsk.tuning.commands.run_benchmark": (
        {"data_home", "device", "max_epochs", "max_train_rows", "batch_sizes", "xgb_max_estimators", "optimizer",
         "precision", "ensemble_size", "predictions_dir", "pruner", "sam_ls_on_mlp"},
        ("imbsk.tuning.study.tune", "imbsk.tuning.evaluation.evaluate"),
    ),
}
_SIZE_UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def _public_objects(exported_only: bool = False) -> Iterator[tuple[str, Any]]:
    """``(qualified name, object)`` of every public class and function defined in imbsk, each once
    (``exported_only``: only the names of an ``__all__``)."""
    seen = set()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        if exported_only and not hasattr(module, "__all__"):
            continue
        names = getattr(module, "__all__", [name for name in vars(module) if not name.startswith("_")])
        for name in names:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            if not obj.__module__.startswith("imbsk"):  # a re-export such as imblearn's geometric_mean_score
                continue
            seen.add(id(obj))
            yield f"{obj.__module__}.{obj.__qualname__}", obj


def _documented_callables(exported_only: bool = False) -> Iterator[tuple[str, Callable, str]]:
    """``(qualified name, function, docstring)``: each function, each class's ``__init__`` (documented on the
    class) and each public method a class defines itself (``exported_only``: of the names of an ``__all__``)."""
    for qualname, obj in _public_objects(exported_only):
        if inspect.isfunction(obj):
            yield qualname, obj, obj.__doc__ or ""
            continue
        if "__init__" in vars(obj) or obj.__init__ is not object.__init__:
            yield qualname, obj.__init__, obj.__doc__ or ""
        for name, member in vars(obj).items():
            if inspect.isfunction(member) and not name.startswith("_"):
                yield f"{qualname}.{name}", member, member.__doc__ or ""


def _parameter_lines(doc: str) -> dict[str, str]:
    """``{name: type line}`` of a numpydoc ``Parameters`` section (``a, b : float`` gives both names)."""
    lines = inspect.cleandoc(doc).splitlines()
    documented: dict[str, str] = {}
    for start, line in enumerate(lines[:-1]):
        if re.fullmatch(r"Parameters( \(.*\))?", line.strip()) and set(lines[start + 1].strip()) == {"-"}:
            break
    else:
        return documented
    for index in range(start + 2, len(lines)):
        line = lines[index]
        if index + 1 < len(lines) and lines[index + 1].strip() and set(lines[index + 1].strip()) == {"-"}:
            break  # the next section's title
        match = re.fullmatch(r"(\*{0,2}\w+(?:, \*{0,2}\w+)*)(?: : (.*))?", line)
        if match and not line.startswith(" "):
            for name in match.group(1).split(", "):
                documented[name.lstrip("*")] = match.group(2) or ""
    return documented


def _documented_default(text: str, function: Callable) -> Any:
    """The value a ``default=...`` of a type line names, read in the function's module."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    size = re.fullmatch(r"(\d+) ([KMG]iB)", text)
    if size:
        return int(size.group(1)) * _SIZE_UNITS[size.group(2)]
    every = re.fullmatch(r"all of (\w+)", text)
    if every:
        return tuple(function.__globals__[every.group(1)])
    if re.fullmatch(r"[A-Za-z_][\w.]*", text):
        head, *rest = text.split(".")
        value = function.__globals__[head]
        for part in rest:
            value = getattr(value, part)
        return value
    raise AssertionError(f"cannot read the documented default {text!r}")


def test_every_name_in_all_exists():
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        missing = [name for name in getattr(module, "__all__", ()) if not hasattr(module, name)]
        assert not missing, (module_name, missing)


def test_documented_parameters_are_the_signatures():
    problems, checked = [], 0
    for qualname, function, doc in _documented_callables():
        documented = _parameter_lines(doc)
        if not documented:
            continue
        checked += 1
        parameters = {
            name: parameter for name, parameter in inspect.signature(function).parameters.items()
            if name not in ("self", "cls")
        }
        variadic = {name for name, p in parameters.items() if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        elsewhere, _ = DOCUMENTED_ELSEWHERE.get(qualname, (set(), ()))
        problems += [f"{qualname}: documents {name!r}, no such parameter" for name in documented
                     if name not in parameters]
        problems += [f"{qualname}: parameter {name!r} is not documented" for name in parameters
                     if name not in documented and name not in variadic and name not in elsewhere]
        for name, type_line in documented.items():
            shown = re.search(r"default\s*=\s*(.+)$", type_line)
            if shown is None or name not in parameters:
                continue
            actual = parameters[name].default
            if actual is inspect.Parameter.empty:
                problems.append(f"{qualname}: {name!r} is documented with default={shown.group(1)}, but required")
            elif _documented_default(shown.group(1), function) != actual:
                problems.append(f"{qualname}: {name!r} documented default={shown.group(1)}, actual {actual!r}")
    assert not problems, "\n".join(problems)
    assert checked > 50  # the parser found the sections


def test_parameters_documented_elsewhere_are_there():
    """What :data:`DOCUMENTED_ELSEWHERE` excuses is documented by the functions named there, or in prose."""
    for qualname, (names, owners) in DOCUMENTED_ELSEWHERE.items():
        module_name, function_name = qualname.rsplit(".", 1)
        function = getattr(importlib.import_module(module_name), function_name)
        assert names <= set(inspect.signature(function).parameters), qualname
        documented = set()
        for owner in owners:
            owner_module, owner_name = owner.rsplit(".", 1)
            documented |= set(_parameter_lines(getattr(importlib.import_module(owner_module), owner_name).__doc__))
        for name in names - documented:
            assert f"``{name}" in function.__doc__, (qualname, name)


@pytest.mark.parametrize("estimator", [ImbalancedMLPClassifier, ImbalancedCNNClassifier])
def test_estimator_documented_options_are_the_constraints(estimator):
    documented = _parameter_lines(estimator.__doc__)
    assert set(documented) == set(estimator._parameter_constraints)
    for name, constraints in estimator._parameter_constraints.items():
        type_line = documented[name].split(", default=")[0]
        shown = {option.strip().strip("'") for group in re.findall(r"\{([^}]*)\}", type_line)
                 for option in group.split(",")}
        shown |= set(re.findall(r"'([^']+)'", re.sub(r"\{[^}]*\}", "", type_line)))  # "'auto' or list"
        # 'cuda:N' is checked in fit (check_device_form), beyond what StrOptions can say.
        shown.discard("cuda:N")
        accepted = set().union(*(c.options for c in constraints if isinstance(c, StrOptions)))
        assert shown == accepted, (name, shown, accepted)
        if None in constraints:
            assert "None" in documented[name], name


def test_exported_functions_have_type_hints():
    missing = []
    for qualname, function, _ in _documented_callables(exported_only=True):
        hints = function.__annotations__
        signature = inspect.signature(function)
        missing += [f"{qualname}({name})" for name in signature.parameters
                    if name not in ("self", "cls") and name not in hints]
        if "return" not in hints:
            missing.append(f"{qualname} -> ?")
    assert not missing, missing


def test_tuning_docstring_gives_the_search_spaces_signature():
    """The signature :mod:`imbsk.tuning` prints for every search space is theirs (it lacked optimizer and precision)."""
    import imbsk.tuning
    from imbsk.tuning.spaces import SEARCH_SPACES

    text = " ".join(imbsk.tuning.__doc__.split())
    shown = re.search(r"Every space is a function ``\(trial, \*, ([^)]*)\) -> dict``", text).group(1)
    for space in SEARCH_SPACES.values():
        parameters = list(inspect.signature(space).parameters.values())[1:]
        assert shown == ", ".join(f"{p.name}={_shown_name(p.default, space)}" for p in parameters), space


def _shown_name(value: Any, function: Callable) -> str:
    """The module constant a default is, by name, or its repr."""
    for name, constant in function.__globals__.items():
        if name.isupper() and constant is value:
            return name
    return repr(value)
