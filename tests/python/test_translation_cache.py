"""Issue 13, item 6 (cache hit in a new process): the front end's results are cached on disk
(src/core/translation_cache.h), so a warm new process does not translate the MSL again. The
cache must stay trustworthy: a damaged entry is detected by its checksum and translated again,
a changed #include'd file is seen in a new process, and a cached translation reflects and runs
exactly as a fresh one. Each case in child processes with a cache folder of its own."""

import glob
import json
import os

from reliability_util import check_child

RUN = '''
import json, os
SRC = """#include "params.h"
kernel void k(device float* x [[buffer(0)]], constant uint& n [[buffer(1)]],
              uint i [[thread_position_in_grid]]) { if (i < n) x[i] = x[i] * SCALE + 1.0f; }"""
inc = os.environ["TEST_INCLUDE_DIR"]
lib = pm.Library(CPU, SRC, options={"include_paths": [inc]})
f = lib.make_function("k")
x = pm.Buffer.from_numpy(CPU, np.arange(64, dtype=np.float32))
cb = pm.CommandQueue(CPU).make_command_buffer()
enc = cb.make_compute_command_encoder()
enc.set_compute_pipeline_state(pm.ComputePipelineState(CPU, f))
enc.set_buffer(x, 0, 0)
enc.set_bytes(np.uint32(64), 1)
enc.dispatch_threads((64, 1, 1), (64, 1, 1))
enc.end_encoding(); cb.commit(); cb.wait_until_completed()
args = [(a.name, a.index, a.type, a.access, a.active) for a in f.arguments]
print(json.dumps({"result": x.to_numpy(np.float32).tolist(), "args": args, "names": lib.function_names}))
'''


def _run(cache, inc, **extra):
    env = {"PYMETALLIC_CACHE_DIR": str(cache), "TEST_INCLUDE_DIR": str(inc), **extra}
    return json.loads(check_child(RUN, env=env).strip().splitlines()[-1])


def _expected(scale):
    return [float(i) * scale + 1.0 for i in range(64)]


def _entries(cache):
    return sorted(glob.glob(os.path.join(cache, "msl", "*.bin")))


def test_a_cached_translation_runs_and_reflects_as_a_fresh_one(tmp_path):
    cache, inc = tmp_path / "cache", tmp_path / "inc"
    inc.mkdir()
    (inc / "params.h").write_text("#define SCALE 3.0f\n")
    fresh = _run(cache, inc, PYMETALLIC_TRANSLATION_CACHE="0")
    assert _entries(cache) == []  # off: nothing stored
    first = _run(cache, inc)
    (entry,) = _entries(cache)
    hit = _run(cache, inc)
    assert _entries(cache) == [entry]
    assert fresh["result"] == _expected(3.0)
    assert first == fresh and hit == fresh


def test_a_changed_include_is_seen_by_a_new_process(tmp_path):
    cache, inc = tmp_path / "cache", tmp_path / "inc"
    inc.mkdir()
    (inc / "params.h").write_text("#define SCALE 3.0f\n")
    assert _run(cache, inc)["result"] == _expected(3.0)
    (inc / "params.h").write_text("#define SCALE 5.0f\n")
    assert _run(cache, inc)["result"] == _expected(5.0)
    (inc / "params.h").write_text("#define SCALE 3.0f\n")
    assert _run(cache, inc)["result"] == _expected(3.0)


def test_damaged_translation_entries_are_translated_again(tmp_path):
    cache, inc = tmp_path / "cache", tmp_path / "inc"
    inc.mkdir()
    (inc / "params.h").write_text("#define SCALE 2.0f\n")
    assert _run(cache, inc)["result"] == _expected(2.0)
    (entry,) = _entries(cache)
    good = open(entry, "rb").read()
    for how in ("truncated", "flipped", "empty", "garbage"):
        data = bytearray(good)
        if how == "truncated":
            data = data[: len(data) // 2]
        elif how == "flipped":  # one byte of the payload: the checksum no longer matches
            data[len(data) // 2] ^= 0x20
        elif how == "empty":
            data = bytearray()
        else:
            data = bytearray(b"PYMETALLIC1 " + b"0" * 32 + b"\n" + b"not a translation")
        open(entry, "wb").write(bytes(data))
        assert _run(cache, inc)["result"] == _expected(2.0), how
        assert open(entry, "rb").read() == good, how  # rewritten from a fresh translation
