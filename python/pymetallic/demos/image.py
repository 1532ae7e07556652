"""The image demo: a buffer pipeline (grayscale, blur, Sobel, threshold) and a texture blur."""

from __future__ import annotations

import time

import numpy as np

from .. import gif as _gif
from .._api import Buffer
from ..errors import MetalError
from ..kernels import IMAGE_PROCESSING, IMAGE_TEXTURE
from . import reference as ref
from .base import DemoBase


class ImageDemos(DemoBase):
    """``demo_image_processing`` (and its texture part)."""

    def demo_image_processing(self, width=None, height=None, level=0.35):
        """Buffer pipeline (grayscale -> Gaussian blur -> Sobel -> threshold, one command
        buffer), then a 3x3 box blur through textures."""
        self._header("Image processing")
        w = self._size(width, 512, 64)
        h = self._size(height, 384, 48)
        rgb = ref.synthetic_image(w, h)
        size = np.array([w, h], np.uint32)
        b_rgb = self._buf(rgb)
        gray, blur, edges = (Buffer(self.device, w * h * 4) for _ in range(3))
        mask = Buffer(self.device, w * h)
        P = {k: self._pipeline(IMAGE_PROCESSING, k) for k in ("rgb_to_gray", "gaussian_blur3x3", "sobel", "threshold")}

        def pipeline():
            cb = self.queue.make_command_buffer()
            self._dispatch(P["rgb_to_gray"], [b_rgb, gray], (w, h, 1), None, [(size, 2)], cb=cb)
            self._dispatch(P["gaussian_blur3x3"], [gray, blur], (w, h, 1), None, [(size, 2)], cb=cb)
            self._dispatch(P["sobel"], [blur, edges], (w, h, 1), None, [(size, 2)], cb=cb)
            self._dispatch(P["threshold"], [edges, mask], (w * h,), None, [(np.float32(level), 2)], cb=cb)
            cb.commit()
            cb.wait_until_completed()

        pipeline()
        t0 = time.perf_counter()
        pipeline()
        elapsed = time.perf_counter() - t0
        self._print(f"  {w}x{h} RGB image: grayscale -> blur -> Sobel -> threshold (4 dispatches, 1 command buffer)")
        self._timing(elapsed, 1)
        g_ref = ref.gray_reference(rgb)
        b_ref = ref.blur3x3_reference(g_ref)
        e_ref = ref.sobel_reference(b_ref)
        ok = self._check("grayscale", np.allclose(gray.to_numpy(np.float32, (h, w)), g_ref, atol=1e-5))
        ok &= self._check("Gaussian blur", np.allclose(blur.to_numpy(np.float32, (h, w)), b_ref, atol=1e-5))
        e_got = edges.to_numpy(np.float32, (h, w))
        ok &= self._check("Sobel", np.allclose(e_got, e_ref, atol=1e-4))
        m_got = mask.to_numpy(np.uint8, (h, w))
        clear = np.abs(e_ref - level) > 1e-4  # pixels not on the threshold's edge
        ok &= self._check("threshold", np.array_equal(m_got[clear], np.where(e_ref > level, 255, 0)[clear]))
        files = []
        if self.write_files:
            files.append(_gif.save_png(self._out("image_input.png"), rgb))
            files.append(_gif.save_png(self._out("image_edges.png"), _gif.to_indices(e_got, 0, 2.0)))
            files.append(_gif.save_png(self._out("image_mask.png"), m_got))
            self._print(f"  wrote {', '.join(files)}")
        texture = self._texture_blur(g_ref)
        return self._result("image", ok, elapsed, steps=1, files=files, texture=texture)

    def _texture_blur(self, gray_np):
        """The texture version of a 3x3 box blur; 'skipped' where textures are missing."""
        try:
            pso = self._pipeline(IMAGE_TEXTURE, "texture_box_blur")
            make_texture = getattr(self.device, "make_texture", None)
            if make_texture is None:
                raise MetalError("textures are not supported yet")
            h, w = gray_np.shape
            src = make_texture(gray_np.astype(np.float32))
            dst = make_texture(np.zeros_like(gray_np, dtype=np.float32))
            cb = self.queue.make_command_buffer()
            enc = cb.make_compute_command_encoder()
            enc.set_compute_pipeline_state(pso)
            enc.set_texture(src, 0)
            enc.set_texture(dst, 1)
            enc.dispatch_threads((w, h, 1), (16, 16, 1))
            enc.end_encoding()
            cb.commit()
            cb.wait_until_completed()
            got = np.asarray(dst.to_numpy(np.float32)).reshape(h, w)
            ok = self._check("texture box blur", np.allclose(got, ref.box3x3_reference(gray_np), atol=1e-5))
            return "ok" if ok else "mismatch"
        except MetalError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self._print(f"  texture blur: skipped: textures not supported yet on {self.device.name} ({first})")
            return "skipped"
