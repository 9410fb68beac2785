"""Benchmark: ``asr2emo predict`` real-time factor at DEMO size (conf/mini), 1 thread.

The same measurement as the ``predict`` entry (:func:`asr2emo.bench.predict.measure`) with the
demo TDNN-F (conf/mini/tdnnf.conf) and UBM of 64 Gaussians / i-vector dim 32; a separate entry so
the runner's ``peak_rss_mb`` is this size's own.
"""

from __future__ import annotations

from asr2emo.bench.predict import measure


def run(quick: bool = False) -> dict:
    return measure("demo", quick)
