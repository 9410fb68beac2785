"""Benchmarks for ``make bench``: one module per entry, each defining ``run(quick=False) -> dict``.

The dict holds at least ``figure`` (a number) and ``unit``; other keys are details. The runner
(:mod:`asr2emo.bin.bench`) runs every entry in its own process and adds ``peak_rss_mb``.
"""
