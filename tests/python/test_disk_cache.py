"""Issue 11, item 5: the disk cache is trustworthy. A damaged compiled object (truncated, or
with zeroed bytes) is detected by its checksum and rebuilt, never loaded; temporary files of
killed compiles are removed; `pymetallic cache info|clear`; a size limit with
least-recently-used eviction. Each case in child processes with a cache folder of its own."""

import glob
import os
import subprocess
import sys
import time

from reliability_util import check_child

RUN = '''
SRC = """kernel void k(device float* x [[buffer(0)]], uint i [[thread_position_in_grid]]) { x[i] = x[i] * 3.0f + %s; }"""
def run(c="1.0f"):
    lib = pm.Library(CPU, SRC % c)
    x = pm.Buffer.from_numpy(CPU, np.arange(64, dtype=np.float32))
    launch(pm.CommandQueue(CPU), lib, "k", [x], 64, 64).wait_until_completed()
    return x.to_numpy(np.float32).copy()
'''

CHECK = (
    RUN
    + """
r = run()
np.testing.assert_array_equal(r, np.arange(64, dtype=np.float32) * 3 + 1)
print("ok")
"""
)


def _objects(cache):
    return sorted(glob.glob(os.path.join(cache, "cpu", "*.so")))


def _damage(path, how):
    data = bytearray(open(path, "rb").read())
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "zeroed":
        # zero a stretch in the middle of the code (the ELF header stays valid)
        mid = len(data) // 2
        data[mid : mid + 256] = bytes(256)
    elif how == "empty":
        data = bytearray()
    with open(path, "wb") as f:
        f.write(data)


def test_damaged_objects_are_rebuilt_not_loaded(tmp_path):
    cache = str(tmp_path / "cache")
    env = {"PYMETALLIC_CACHE_DIR": cache}
    assert check_child(CHECK, env=env).strip() == "ok"
    (so,) = _objects(cache)
    for how in ("truncated", "zeroed", "empty"):
        _damage(so, how)
        assert check_child(CHECK, env=env).strip() == "ok", how  # no SIGBUS, no wrong result
        assert _objects(cache) == [so]
    # a damaged checksum file is no better than a damaged object
    (checksum,) = glob.glob(so[:-3] + ".sum")
    with open(checksum, "r+b") as f:
        f.seek(20)
        f.write(b"0000")
    assert check_child(CHECK, env=env).strip() == "ok"


def test_temporary_files_of_killed_compiles_are_removed(tmp_path):
    cache = tmp_path / "cache"
    (cache / "cpu").mkdir(parents=True)
    # a process that no longer exists left these behind
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = [cache / "cpu" / f"abc.so.tmp{pid}_0", cache / "cpu" / f"abc.cpp.tmp{pid}_1"]
    for p in stale:
        p.write_bytes(b"half a compile")
    alive = cache / "cpu" / f"def.so.tmp{os.getpid()}_0"  # ours: still being written
    alive.write_bytes(b"in progress")
    check_child(CHECK, env={"PYMETALLIC_CACHE_DIR": str(cache)})
    assert not any(p.exists() for p in stale)
    assert alive.exists()


def _cli(args, env):
    full = dict(os.environ)
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pymetallic.cli", *args], capture_output=True, text=True, env=full, timeout=60
    )


def test_cache_info_and_clear(tmp_path):
    cache = str(tmp_path / "cache")
    env = {"PYMETALLIC_CACHE_DIR": cache}
    check_child(CHECK, env=env)
    r = _cli(["cache", "info"], env)
    assert r.returncode == 0, r.stderr
    assert cache in r.stdout and "entries: " in r.stdout and "size limit" in r.stdout
    entries = int(r.stdout.split("entries: ")[1].split()[0])
    assert entries >= 2  # the compiler's fingerprint and the kernel
    r = _cli(["cache", "clear"], env)
    assert r.returncode == 0 and "removed" in r.stdout, r.stderr
    assert _objects(cache) == []
    assert "entries: 0" in _cli(["cache", "info"], env).stdout
    assert check_child(CHECK, env=env).strip() == "ok"  # rebuilt after clearing


def test_size_limit_evicts_least_recently_used(tmp_path):
    cache = str(tmp_path / "cache")
    env = {"PYMETALLIC_CACHE_DIR": cache}
    # three kernels; the first is used again last, so the second is the least recently used
    check_child(RUN + "run('1.0f')", env=env)
    check_child(RUN + "run('2.0f')", env=env)
    objs = {}
    for so in _objects(cache):
        objs[so] = os.path.getmtime(so)
    first, second = sorted(objs, key=objs.get)
    for obj, age in ((first, 100), (second, 50)):  # every file of each entry
        for f in glob.glob(obj[:-3] + ".*"):
            os.utime(f, (time.time() - age, time.time() - age))
    check_child(RUN + "run('1.0f')", env=env)  # a hit: marks the first as used now
    assert os.path.getmtime(first) > time.time() - 30
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(cache, "*", "*")))
    # a third kernel does not fit beside both, but two do with room to spare (eviction goes
    # down to 80% of the limit)
    limit = int(total * 1.35)
    check_child(RUN + "run('3.0f')", env={**env, "PYMETALLIC_CACHE_SIZE_LIMIT": str(limit)})
    left = _objects(cache)
    assert first in left and second not in left and len(left) == 2
    size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(cache, "*", "*")))
    assert size <= limit


def test_the_folder_follows_the_environment_within_a_process(tmp_path):
    """A process that changes PYMETALLIC_CACHE_DIR (as tests do) compiles into the folder it
    names now, not into the first one it used."""
    code = (
        RUN
        + f"""
import os
for name in ("a", "b"):
    os.environ["PYMETALLIC_CACHE_DIR"] = os.path.join({str(tmp_path)!r}, name)
    r = run("2.0f" if name == "a" else "5.0f")
    np.testing.assert_array_equal(r, np.arange(64, dtype=np.float32) * 3 + (2 if name == "a" else 5))
print("ok")
"""
    )
    assert check_child(code).strip() == "ok"
    assert len(_objects(str(tmp_path / "a"))) == 1
    assert len(_objects(str(tmp_path / "b"))) == 1
