"""The scale rehearsal's fit and projection, on measurements with a known law."""

from __future__ import annotations

import pytest

from asr2emo.report.scale import PAPER_HOURS, extrapolate, fit_line, growth, render, summarize

TRAINING = {"num_epochs": 6, "max_duration": 200.0, "steps": 3, "speed_factors": 3}


def _rows(law, fps=900.0):
    rows = []
    for h in (1.0, 2.0, 4.0):
        hours = {"train": h, "eval": 0.1, "iemocap": 0.2 * h, "all": 1.3 * h + 0.1}
        for stage in range(9):
            x = hours[{0: "all", 5: "eval"}.get(stage, "iemocap" if stage >= 6 else "train")]
            cost = law(x)
            rows.append(
                dict(stage=stage, hours=hours, nj=2, wall_s=cost, cpu_s=2 * cost,
                     peak_rss_mb=100 + 10 * x, disk_mb=5 * x, train_frames_per_s=fps,
                     manifest_mb=3 * h)
            )  # fmt: skip
    return rows


def test_linear_costs_are_linear_and_projected_exactly():
    s = summarize(_rows(lambda x: 10 + 3 * x), TRAINING, cores=2, gpus=0, gpu_speedup=1)
    st = s["stages"]
    assert s["all_linear"] and s["all_fit_32_gb"]
    assert st["2"]["projected"]["cpu_s"] == pytest.approx(2 * (10 + 3 * 207), rel=1e-3)
    assert st["2"]["projected"]["wall_s"] == pytest.approx(10 + 3 * 207, rel=1e-3)  # nj = cores
    assert st["2"]["projected"]["peak_rss_mb"] == pytest.approx(100 + 10 * 207, rel=1e-3)
    assert 0 < st["2"]["growth"] < 1  # the constant part makes it sublinear
    # stage 4: the paper's frames at the measured speed; per-frame time does not grow
    frames = 3 * 207 * 3600 * 100 * 6
    assert st["4"]["projected"]["cpu_s"] == pytest.approx(frames / 900.0, rel=1e-3)
    assert st["4"]["growth"] == 0.0
    # its peak RSS: the largest measured + the manifests' MB per hour over the paper's hours
    assert st["4"]["projected"]["peak_rss_mb"] == pytest.approx(140 + 3 * (207 - 4), rel=1e-3)
    # stage 5: the same dev/test at every size, scaled by hours
    assert st["5"]["growth"] is None
    assert st["5"]["projected"]["cpu_s"] == pytest.approx(
        2 * (10 + 0.3) * PAPER_HOURS["eval"] / 0.1, rel=1e-3
    )
    assert "| 8 | emotion head CV |" in render(s)


def test_superlinear_cost_is_flagged():
    s = summarize(_rows(lambda x: x**2), TRAINING, cores=2, gpus=0, gpu_speedup=1)
    assert not s["all_linear"] and s["stages"]["3"]["growth"] == pytest.approx(2.0)


def test_saturating_cost_extends_its_latest_regime():
    # grows, then flattens: the line through the last two sizes, not the steep first one
    assert extrapolate([1, 2, 4], [3000, 3850, 4075], 207) == pytest.approx(4075 + 112.5 * 203)
    assert extrapolate([1, 2, 4], [50, 40, 30], 207) == 30.0  # never below the largest size


def test_fit_and_growth_helpers():
    assert fit_line([1, 2, 4], [3, 5, 9]) == pytest.approx((1.0, 2.0))
    assert fit_line([1, 2], [5, 4])[1] == 0.0  # a cost never shrinks with more data
    assert growth([1, 4], [2, 8]) == pytest.approx(1.0)
