"""The pure helpers the cues rest on: MiniVision's crop box, score remapping, frame sampling."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.liveness.cue import SAMPLE_S, remap, sample
from edge_agent.liveness.frames import scaled_box


@settings(max_examples=300, deadline=None)
@given(w=st.integers(32, 4000), h=st.integers(32, 4000), bx=st.floats(-0.5, 1.5), by=st.floats(-0.5, 1.5),
       bw=st.floats(0.02, 1.0), bh=st.floats(0.02, 1.0), scale=st.sampled_from([2.7, 4.0]))
def test_minivision_crop_stays_inside_the_frame(w, h, bx, by, bw, bh, scale):
    box = (bx * w, by * h, max(2.0, bw * w), max(2.0, bh * h))
    x0, y0, x1, y1 = scaled_box((h, w), box, scale)
    assert 0 <= x0 <= x1 <= w - 1 and 0 <= y0 <= y1 <= h - 1


def test_minivision_crop_keeps_the_centre_and_the_scale_when_it_fits():
    x0, y0, x1, y1 = scaled_box((1000, 1000), (450, 400, 100, 120), 2.7)
    assert (x0, y0, x1, y1) == (365, 298, 635, 622)       # 270x324 about the centre (500, 460)


def test_minivision_crop_caps_the_scale_and_shifts_at_borders():
    # box 200 px tall in a 540 px frame: 4.0 is capped to 539/200; pushed back above the bottom edge
    x0, y0, x1, y1 = scaled_box((540, 960), (400, 400, 150, 200), 4.0)
    assert y1 == 539 and y0 == 0 and abs((x1 - x0) - 150 * 539 / 200) <= 1


@given(v=st.floats(0, 1), t=st.floats(0.01, 0.99))
def test_remap_puts_the_threshold_at_one_half_and_is_monotone(v, t):
    assert remap(t, t) == 0.5
    assert (remap(v, t) >= 0.5) == (v >= t)
    assert remap(min(1.0, v + 0.01), t) >= remap(v, t)


def test_sampling_reuses_frames_when_the_window_slides():
    ts = np.arange(60) / 15.0

    class O:
        def __init__(self, t):
            self.t_mono = t
    obs = [(O(t), None) for t in ts]
    picked = [{id(obs[i][0]) for i in [k + j for j in sample(obs[k:k + 15], 5)]} for k in range(0, 45)]
    for a, b in zip(picked, picked[1:]):
        assert len(b - a) <= 1                # at most one newly scored frame per new frame
    one = sample(obs[:15], 5)
    assert len(one) == 5 and len({int(ts[i] // SAMPLE_S) for i in one}) == 5
    assert sample(obs[:1], 5) == [0] and sample([], 5) == []
