"""Every PYMETALLIC_* variable the sources read is listed in include/metallic/environment.h
and in README.md's Environment table, and nothing is listed that no source reads."""

import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = re.compile(r"PYMETALLIC_[A-Z0-9_]*[A-Z0-9]")


def _tracked_sources():
    out = subprocess.run(
        ["git", "ls-files", "src", "python", "include", "examples", "tests", "scripts", "bench"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode != 0:  # not a git checkout: walk the folders
        return [
            os.path.join(d, f)
            for top in ("src", "python", "include", "examples", "tests", "scripts", "bench")
            for d, _, fs in os.walk(os.path.join(ROOT, top))
            for f in fs
        ]
    return [os.path.join(ROOT, p) for p in out.stdout.split()]


def used_names():
    header = os.path.join(ROOT, "include", "metallic", "environment.h")
    names = set()
    for path in _tracked_sources():
        if os.path.abspath(path) == header or not path.endswith((".cpp", ".h", ".py", ".cu", ".sh")):
            continue
        if os.path.basename(path) == os.path.basename(__file__):
            continue
        with open(path, errors="replace") as f:
            names |= set(NAME.findall(f.read()))
    return names


def header_names():
    with open(os.path.join(ROOT, "include", "metallic", "environment.h")) as f:
        return set(re.findall(r'\{"(PYMETALLIC_[A-Z0-9_]+)"', f.read()))


def readme_names():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    table = text[text.index("## Environment") :]
    table = table[: table.index("\n## ", 1)]
    return set(re.findall(r"^\| `(PYMETALLIC_[A-Z0-9_]+)", table, re.M))


def test_every_variable_in_the_sources_is_in_the_header():
    used, listed = used_names(), header_names()
    assert used, "the scan found no variable at all"
    assert used - listed == set(), f"read but not listed in environment.h: {sorted(used - listed)}"
    assert listed - used == set(), f"listed but read nowhere: {sorted(listed - used)}"


def test_the_readme_table_mirrors_the_header():
    assert readme_names() == header_names()
