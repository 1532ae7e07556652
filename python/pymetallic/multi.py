"""Several devices in one program, and one device per process under a launcher.

``local_device()`` picks the device a process should use when ``mpirun``/``srun``/torchrun
start one process per GPU; ``SharedEvent`` (``device.make_shared_event()``) orders queues of
different devices without the host waiting. See docs/multi-gpu.md.
"""

from __future__ import annotations

import os

from . import _core
from .errors import DeviceError

# Launchers' node-local rank variables, most specific first: Open MPI (mpirun), Slurm (srun),
# torchrun and most others (LOCAL_RANK), MPICH/Hydra (MPI_LOCALRANKID).
LOCAL_RANK_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "LOCAL_RANK", "MPI_LOCALRANKID")


def local_rank():
    """This process's rank among the processes of its node, from the launcher's environment,
    or None when no launcher set one."""
    for name in LOCAL_RANK_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            try:
                rank = int(value)
            except ValueError:
                raise DeviceError(f"{name}={value!r} is not a rank number") from None
            if rank < 0:
                raise DeviceError(f"{name}={value!r} is negative")
            return rank
    return None


def local_device():
    """The device this process should use.

    Under a launcher (``OMPI_COMM_WORLD_LOCAL_RANK``, ``SLURM_LOCALID``, ``LOCAL_RANK`` or
    ``MPI_LOCALRANKID`` set): GPU number ``local rank % GPUs on this node``, or the CPU device
    when the node has no GPU. Otherwise the default device. ``PYMETALLIC_DEVICE`` (cpu, cuda or
    cuda:N), when set, wins over both: every process of the node then uses that device.
    """
    if os.environ.get("PYMETALLIC_DEVICE"):
        return _core.Device.get_default_device()
    rank = local_rank()
    if rank is None:
        return _core.Device.get_default_device()
    devices = _core.Device.get_all_devices()
    gpus = [d for d in devices if d.kind != "cpu"]
    if gpus:
        return gpus[rank % len(gpus)]
    cpus = [d for d in devices if d.kind == "cpu"]
    if not cpus:
        raise DeviceError("no compute device found")
    return cpus[0]


def _notify_listener(self, value, callback):
    """Calls ``callback(event, value)`` on a background thread once ``signaled_value`` reaches
    ``value`` (Metal's ``notifyListener:atValue:block:``; the listener is a daemon thread).
    Returns the thread."""
    import threading

    value = int(value)
    if value < 0:
        raise ValueError("the value must not be negative")
    if not callable(callback):
        raise TypeError("notify_listener needs a callable(event, value)")

    def wait():
        while not self.wait_until_signaled_value(value, 100):
            pass
        callback(self, value)

    thread = threading.Thread(target=wait, name=f"pymetallic event listener ({value})", daemon=True)
    thread.start()
    return thread
