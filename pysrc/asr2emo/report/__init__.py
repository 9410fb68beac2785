"""Stage 9 report: the paper's tables beside ours, plots, and a machine-readable metrics.json.

:mod:`.paper` holds the published figures, :mod:`.collect` reads what the recipe produced
(manifests, per-layer CV metrics, fold histories, WER files), :mod:`.plots` draws the PNGs and
:mod:`.render` writes ``report.md``. A missing input makes its section say "not run".
"""
