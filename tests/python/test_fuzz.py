"""Issue 11, item 10: a bounded round of the fuzzer (scripts/fuzz_front_end.py) in every test
run: structure-aware mutations of the repository's kernels through the front end, and random
API call sequences; any exception other than a MetalError, a crash or a hang fails the test.
A longer run is documented in the script."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bounded_fuzz_round_finds_nothing():
    env = dict(os.environ, PYMETALLIC_KERNEL_TIMEOUT="2")
    r = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "scripts", "fuzz_front_end.py"),
            "--seed",
            "11",
            "--count",
            "250",
            "--api",
            "120",
            "--hang",
            "40",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert "0 findings" in r.stdout and "370 executions" in r.stdout, r.stdout
