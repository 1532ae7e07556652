"""Shared fixtures: every test that takes `device` runs once per device present (the CPU
always; CUDA GPUs where there are any), so the same assertions hold on every backend."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # pm_testing

# A CUDA kernel whose subset of the runtime library fails to compile is an error of the
# subset's detection (entry_wrapper.cpp), not something to paper over with a retry.
os.environ.setdefault("PYMETALLIC_CUDA_RUNTIME_SUBSET", "strict")

import pymetallic

_DEVICES = pymetallic.Device.get_all_devices()


def _device_id(d):
    return "cpu" if d.kind == "cpu" else f"{d.kind}{d.ordinal}"


@pytest.fixture(params=_DEVICES, ids=[_device_id(d) for d in _DEVICES])
def device(request):
    return request.param


@pytest.fixture
def cpu_device():
    return next(d for d in _DEVICES if d.kind == "cpu")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
