"""The typed, documented Python surface: generated stubs ship with the package, every public
function, class, method and property has a docstring, and the examples type-check."""

import ast
import importlib.util
import inspect
import os
import subprocess
import sys

import pytest

import pymetallic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.dirname(pymetallic.__file__)


def _doc(obj):
    """The docstring's text: for a native function, without the signature nanobind puts first."""
    if isinstance(obj, property) and hasattr(obj.fget, "__nb_signature__"):
        obj = obj.fget
    sigs = getattr(obj, "__nb_signature__", None)
    if sigs is not None:
        return "" if any(not doc for _, doc, _ in sigs) else "\n".join(doc for _, doc, _ in sigs).strip()
    doc = getattr(obj, "__doc__", None)
    return doc.strip() if isinstance(doc, str) else ""


def undocumented():
    """Public callables of the package without a docstring: every name in ``__all__``, and
    the public methods and properties that its classes define themselves."""
    missing = []
    for name in pymetallic.__all__:
        obj = getattr(pymetallic, name)
        if inspect.ismodule(obj):
            owner = obj.__name__
            members = [
                (f"{name}.{n}", v)
                for n, v in vars(obj).items()
                if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == owner
            ]
        else:
            members = [(name, obj)]
        for label, value in members:
            if not (callable(value) or isinstance(value, type)):
                continue  # a constant
            if not _doc(value):
                missing.append(label)
            if isinstance(value, type):
                for attr, member in vars(value).items():
                    if attr.startswith("_") and attr != "__call__":
                        continue  # a constructor's arguments are documented on its class
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if not (callable(member) or isinstance(member, property)) or isinstance(member, type):
                        continue
                    if not _doc(member):
                        missing.append(f"{label}.{attr}")
    return missing


def test_every_public_callable_has_a_docstring():
    missing = undocumented()
    assert missing == [], f"{len(missing)} public callables without a docstring: {missing}"


def test_the_counter_sees_a_missing_docstring():
    class Probe:
        def documented(self):
            """Yes."""

        def bare(self):
            pass

    saved = pymetallic.__all__
    pymetallic.Probe = Probe
    pymetallic.__all__ = ["Probe"]
    try:
        assert undocumented() == ["Probe", "Probe.bare"]
    finally:
        pymetallic.__all__ = saved
        del pymetallic.Probe


def test_stubs_ship_with_the_package_and_are_valid_python():
    assert os.path.isfile(os.path.join(PKG, "py.typed"))
    stub = os.path.join(PKG, "_core.pyi")
    assert os.path.isfile(stub), "the build installs the generated _core.pyi next to the extension"
    tree = ast.parse(open(stub).read(), stub)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    methods = {f.name for f in classes["Device"].body if isinstance(f, ast.FunctionDef)}
    # Methods implemented in Python are declared by the bindings, so the stubs have them.
    assert {"make_buffer", "make_library", "make_kernel", "read_scalar", "command_queue"} <= methods
    text = open(stub).read()
    assert "tuple[int, int, int] | int" in text  # dispatch sizes, not `object`


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is in the [test] extra")
def test_examples_type_check_against_the_stubs():
    examples = os.path.join(ROOT, "examples")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--cache-dir",
            os.devnull,
            "--ignore-missing-imports",
            "--follow-imports",
            "silent",
            "--python-version",
            f"{sys.version_info[0]}.{sys.version_info[1]}",
            examples,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
