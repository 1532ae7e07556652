"""Compiles the binding sources (python/src/*.cpp) against Python's limited C API, as the abi3
wheel builds them (pyproject.toml: wheel.py-api = "cp312"; CMakeLists.txt: nanobind's STABLE_ABI,
which defines Py_LIMITED_API=0x030C0000 on CPython >= 3.12), with whatever Python runs this
script, so a use of CPython internals (tp_name, PyUnicode_AsUTF8 before 3.13, PyTuple_GET_ITEM,
...) fails here rather than in a release build on a newer Python.

    python scripts/check_limited_api.py [--limited-api 0x030C0000] [--jobs 2]     make limited-api-check

Syntax and types only (-fsyntax-only: no objects, no link). Needs nanobind importable and a C++
compiler ($CXX, else c++). On a Python older than the targeted limited API (3.11 here), the few
functions nanobind's headers take from the newer limited API (PyObject_Vectorcall,
PyErr_GetRaisedException: limited from 3.12) are declared by a prelude, as the newer headers
declare them; everything else comes from the real headers, so the check is at least as strict
as the real one (a function new to the limited API in 3.12 that the prelude does not declare
fails here). Exit status 0 when every file compiles, 1 otherwise.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Declarations of the 3.12 additions to the limited API that nanobind's headers use, for headers
# of an older Python (signatures as in CPython 3.12's Include/abstract.h and pyerrors.h).
PRELUDE = """\
#include <Python.h>
#if defined(Py_LIMITED_API) && Py_LIMITED_API + 0 >= 0x030C0000 && PY_VERSION_HEX < 0x030C0000
#ifdef __cplusplus
extern "C" {
#endif
PyAPI_FUNC(PyObject*) PyObject_Vectorcall(PyObject* callable, PyObject* const* args, size_t nargsf,
                                          PyObject* kwnames);
PyAPI_FUNC(PyObject*) PyObject_VectorcallMethod(PyObject* name, PyObject* const* args, size_t nargsf,
                                                PyObject* kwnames);
PyAPI_FUNC(PyObject*) PyErr_GetRaisedException(void);
PyAPI_FUNC(void) PyErr_SetRaisedException(PyObject* exc);
#ifndef PY_VECTORCALL_ARGUMENTS_OFFSET
#define PY_VECTORCALL_ARGUMENTS_OFFSET ((size_t)1 << (8 * sizeof(size_t) - 1))
#endif
#ifdef __cplusplus
}
#endif
#endif
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limited-api", default="0x030C0000", help="Py_LIMITED_API value (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="compilers run at once (default: %(default)s)")
    parser.add_argument("files", nargs="*", type=Path, help="sources to check (default: python/src/*.cpp)")
    args = parser.parse_args()

    try:
        import nanobind
    except ImportError:
        print("check_limited_api: nanobind is not importable here (pip install nanobind)", file=sys.stderr)
        return 1
    cxx = shlex.split(os.environ.get("CXX") or "c++")
    files = args.files or sorted((ROOT / "python" / "src").glob("*.cpp"))
    python_include = sysconfig.get_paths()["include"]
    if not (Path(python_include) / "Python.h").exists():
        print(
            f"check_limited_api: no Python.h in {python_include} (Debian: apt-get install python3-dev)", file=sys.stderr
        )
        return 1
    print(
        f"== limited-API check: {len(files)} binding sources, Py_LIMITED_API={args.limited_api}, "
        f"Python {sys.version.split()[0]} headers, nanobind {getattr(nanobind, '__version__', '?')}, {cxx[0]}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        prelude = Path(tmp) / "limited_api_prelude.h"
        prelude.write_text(PRELUDE)
        base = cxx + [
            "-std=c++17",
            "-fsyntax-only",
            f"-DPy_LIMITED_API={args.limited_api}",
            "-include",
            str(prelude),
            f"-I{python_include}",
            f"-I{nanobind.include_dir()}",
            f"-I{ROOT / 'src'}",
            f"-I{ROOT / 'include'}",
            f"-I{ROOT / 'python' / 'src'}",
        ]

        def compile_one(path: Path) -> tuple[Path, int, str, float]:
            start = time.monotonic()
            r = subprocess.run(base + [str(path)], capture_output=True, text=True)
            return path, r.returncode, r.stdout + r.stderr, time.monotonic() - start

        failed = []
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for path, rc, output, seconds in pool.map(compile_one, files):
                name = os.path.relpath(path, ROOT)
                print(f"   {'ok  ' if rc == 0 else 'FAIL'} {name} ({seconds:.1f} s)", flush=True)
                if rc != 0:
                    failed.append(name)
                    sys.stdout.write(output)
    took = time.monotonic() - start
    if failed:
        print(f"== {len(failed)} of {len(files)} sources use CPython outside the limited API ({took:.0f} s)")
        return 1
    print(f"== all {len(files)} sources compile under the limited API ({took:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
