"""The demos at small sizes, and their simulations kernel by kernel against NumPy."""

import os

import numpy as np
import pytest

import pymetallic
from pymetallic import helpers
from pymetallic.demos import FluidReference, FluidSimulation, LifeSimulation, life_reference
from pymetallic.demos import reference as ref
from pymetallic.gif import colormap, save_gif, to_indices


@pytest.fixture(scope="module")
def device():
    return pymetallic.Device.get_default_device()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return helpers.MetallicDemo(quiet=True, out_path=str(tmp_path_factory.mktemp("demo_out")), quick=True)


# ---------------------------------------------------------------- Life
def test_life_matches_numpy_exactly(device):
    rng = np.random.default_rng(3)
    board = (rng.random((40, 56)) < 0.35).astype(np.uint8)
    sim = LifeSimulation(device, 56, 40, initial=board)
    sim.step(15)
    np.testing.assert_array_equal(sim.board, life_reference(board, 15))
    sim.step(10, wait_each_step=False)
    np.testing.assert_array_equal(sim.board, life_reference(board, 25))


def test_life_glider_wraps_around_the_torus(device):
    board = np.zeros((16, 16), np.uint8)
    board[0, 1] = board[1, 2] = board[2, 0] = board[2, 1] = board[2, 2] = 1
    sim = LifeSimulation(device, 16, 16, initial=board)
    sim.step(64)  # a glider moves 1 cell diagonally every 4 steps
    np.testing.assert_array_equal(sim.board, board)


# ---------------------------------------------------------------- fluid, kernel by kernel
@pytest.fixture(scope="module")
def fluid_pair(device):
    n = 40
    sim = FluidSimulation(device, n, 32)
    refsim = FluidReference(n, 32)
    rng = np.random.default_rng(5)
    vel = (rng.standard_normal((32, n, 2)) * 3).astype(np.float32)
    dye = rng.random((32, n)).astype(np.float32)
    p = rng.standard_normal((32, n)).astype(np.float32)
    return sim, refsim, vel, dye, p


def _buf(device, a):
    return pymetallic.Buffer.from_numpy(device, a)


def test_fluid_add_source(device, fluid_pair):
    sim, r, vel, dye, _ = fluid_pair
    bv, bd = _buf(device, vel), _buf(device, dye)
    sim.run_kernel("add_source", [bv, bd])
    v2, d2 = vel.copy(), dye.copy()
    r.add_source(v2, d2, sim.step_count)
    np.testing.assert_allclose(bv.to_numpy(np.float32, vel.shape), v2, atol=1e-6)
    np.testing.assert_allclose(bd.to_numpy(np.float32, dye.shape), d2, atol=1e-6)
    assert not np.allclose(v2, vel)  # the source did something


def test_fluid_advection(device, fluid_pair):
    sim, r, vel, dye, _ = fluid_pair
    bv, out_v = _buf(device, vel), pymetallic.Buffer(device, vel.nbytes)
    sim.run_kernel("advect_velocity", [bv, out_v])
    np.testing.assert_allclose(out_v.to_numpy(np.float32, vel.shape), r.advect_velocity(vel), atol=1e-5)
    bd, out_d = _buf(device, dye), pymetallic.Buffer(device, dye.nbytes)
    sim.run_kernel("advect_dye", [bv, bd, out_d])
    np.testing.assert_allclose(out_d.to_numpy(np.float32, dye.shape), r.advect_dye(vel, dye), atol=1e-5)


def test_fluid_divergence_jacobi_gradient(device, fluid_pair):
    sim, r, vel, _, p = fluid_pair
    bv, div = _buf(device, vel), pymetallic.Buffer(device, p.nbytes)
    sim.run_kernel("divergence", [bv, div])
    d_ref = r.divergence(vel)
    np.testing.assert_allclose(div.to_numpy(np.float32, p.shape), d_ref, atol=1e-5)
    bp, out_p = _buf(device, p), pymetallic.Buffer(device, p.nbytes)
    sim.run_kernel("jacobi", [bp, div, out_p])
    np.testing.assert_allclose(out_p.to_numpy(np.float32, p.shape), r.jacobi(p, d_ref), atol=1e-5)
    out_v = pymetallic.Buffer(device, vel.nbytes)
    sim.run_kernel("subtract_gradient", [bv, bp, out_v])
    np.testing.assert_allclose(out_v.to_numpy(np.float32, vel.shape), r.subtract_gradient(vel, p), atol=1e-5)


@pytest.mark.parametrize("wait_each_dispatch", [True, False])
def test_fluid_steps_match_numpy(device, wait_each_dispatch):
    sim = FluidSimulation(device, 36)
    r = FluidReference(36)
    sim.step(2, wait_each_dispatch=wait_each_dispatch)
    r.step(2)
    np.testing.assert_allclose(sim.velocity, r.velocity, atol=1e-5)
    np.testing.assert_allclose(sim.dye, r.dye, atol=1e-5)
    np.testing.assert_allclose(sim.pressure, r.pressure, atol=1e-5)
    assert r.dye.max() > 0.1


def test_projection_reduces_divergence(device):
    sim = FluidSimulation(device, 48, jacobi_iterations=200)
    rng = np.random.default_rng(1)
    vel = rng.standard_normal((48, 48, 2)).astype(np.float32)
    sim.set_state(velocity=vel)
    before = np.abs(FluidReference.divergence(vel)).mean()
    sim.step(1)
    after = np.abs(FluidReference.divergence(sim.velocity)).mean()
    assert after < 0.5 * before


def test_all_modes_give_the_same_result(device):
    a, b, c = FluidSimulation(device, 32), FluidSimulation(device, 32), FluidSimulation(device, 32)
    a.step(4, wait_each_dispatch=True)
    b.step(4, wait_each_dispatch=False)
    c.step(4, wait_each_step=False)  # steps committed back to back, one wait
    for other in (b, c):
        np.testing.assert_array_equal(a.dye, other.dye)
        np.testing.assert_array_equal(a.velocity, other.velocity)


# ---------------------------------------------------------------- references, GIFs
def test_mandelbrot_reference_agrees_with_known_points():
    n = ref.mandelbrot_reference(3, 1, 50, -1.0, 0.0, 1.5)  # c = -1 (inside), 0.5, 2 (outside)
    assert n[0, 0] == 50 and 0 < n[0, 1] < 50 and n[0, 2] < 3


def test_gif_and_colormap(tmp_path):
    from PIL import Image

    cmap = colormap()
    assert cmap.shape == (256, 3) and cmap.dtype == np.uint8
    assert tuple(cmap[0]) == (0, 0, 0) and tuple(cmap[-1]) == (255, 255, 220)
    frames = [to_indices(np.full((8, 10), v)) for v in (0.0, 0.5, 1.0)]
    path = save_gif(str(tmp_path / "t.gif"), frames, cmap)
    with Image.open(path) as img:
        assert img.size == (10, 8) and img.n_frames == 3
        img.seek(2)
        assert img.convert("RGB").getpixel((0, 0)) == (255, 255, 220)


# ---------------------------------------------------------------- the demos themselves
def test_get_demos_lists_every_demo(demo):
    names = list(demo.get_demos())
    assert names == [
        "basic",
        "matrix",
        "advanced",
        "memory",
        "image",
        "life",
        "fluid",
        "device_info",
        "performance",
        "errors",
    ]
    assert helpers.resolve_demo_name("cellular") == "life"
    assert helpers.resolve_demo_name("mandelbrot") == "advanced"
    with pytest.raises(ValueError):
        helpers.resolve_demo_name("nope")


@pytest.mark.parametrize("name", helpers.demo_names())
def test_each_demo_passes_quickly(demo, name):
    result = demo.get_demos()[name]()
    assert result["ok"] is True, result
    assert result["elapsed"] >= 0


def test_demo_writes_gifs(demo):
    life = demo.results.get("life") or demo.demo_cellular_automata()
    fluid = demo.results.get("fluid") or demo.demo_fluid_dynamics()
    from PIL import Image

    for res, name in ((life, "cellular.gif"), (fluid, "fluid_dynamics.gif")):
        path = os.path.join(demo.out_path, name)
        assert path in res["files"] and os.path.getsize(path) > 0
        with Image.open(path) as img:
            assert img.n_frames >= 2
    assert set(fluid["timings"]) == {"wait_each_dispatch", "per_step"}


def test_texture_blur_runs(demo):
    res = demo.demo_image_processing()
    assert res["ok"] is True
    assert res["texture"] == "ok"


def test_demo_prints_timing_and_check(capsys, tmp_path):
    d = helpers.MetallicDemo(out_path=str(tmp_path), quick=True)
    d.demo_cellular_automata(size=24, steps=6)
    out = capsys.readouterr().out
    assert "⏱ Elapsed" in out and "sec for 6 steps, average =" in out
    assert "matches NumPy" in out


def test_quiet_prints_nothing(capsys, tmp_path):
    helpers.MetallicDemo(quiet=True, out_path=str(tmp_path), quick=True).demo_fluid_dynamics(size=16, steps=2)
    assert capsys.readouterr().out == ""


def test_run_complete_demo(tmp_path, capsys):
    results = helpers.run_complete_demo(quiet=True, out_path=str(tmp_path), quick=True)
    assert set(results) == set(helpers.demo_names())
    assert all(r["ok"] for r in results.values())


def test_a_failing_demo_does_not_stop_the_others(tmp_path):
    d = helpers.MetallicDemo(quiet=True, out_path=str(tmp_path), quick=True)
    d.demo_basic_compute = lambda: (_ for _ in ()).throw(RuntimeError("boom"))
    results = d.run(["basic", "errors"])
    assert results["basic"]["ok"] is False and "boom" in results["basic"]["error"]
    assert results["errors"]["ok"] is True
