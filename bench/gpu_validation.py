"""Cost of validation mode (issue 12) on an NVIDIA GPU: the kernels of bench/cpu_validation.py
(bench/gpu_kernels.py's benchmark kernels) run plain and with options={"validation": True}
on the first CUDA device; prints the time of each and the slowdown.

Each time is one command buffer, commit to wait_until_completed(), best of 3 after a
warm-up: with validation it includes clearing the dispatch's findings, log and shadow-slot
memory and reading the findings back. Validation checks every subscripted, `*p` and `p->`
access against the bound buffers with a search of the ranges, keeps per threadgroup byte two
shadow words updated with atomics, and counts barriers per thread in shared memory.

Run: python bench/gpu_validation.py [--small]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from cpu_validation import main  # noqa: E402

if __name__ == "__main__":
    main("cuda")
