"""Train the emotion head on bottleneck frames: leave-one-session-out CV + deployable model.

Reads ``<bottleneck-dir>/<layer>/cuts.jsonl.gz`` for every layer dir with ``.done`` (or the
``--layers`` given), and writes under ``<emotion-dir>``::

    <layer>/fold-<k>/predictions.jsonl  one line per test utterance of session k:
                                        {"id", "speaker", "session", "label",
                                         "pred": {"sum_softmax", "mean_logprob", "majority"},
                                         "posteriors": {class: p}, "num_frames"}
    <layer>/fold-<k>/history.json       {"epoch", "train_loss", "val_ua", "best_epoch", ...}
    <layer>/fold-<k>/head.pt            that fold's head
    <layer>/metrics.json                see below
    model/                              deployable head trained on all data (asr2emo.emotion.export)

``metrics.json`` schema (UA = mean per-class recall, WA = accuracy, fractions in [0, 1])::

    {"layer": str, "aggregation": "sum_softmax", "classes": [str],
     "ua", "wa": pooled over all test utterances of all folds (summed-softmax decision),
     "ua_fold_mean", "wa_fold_mean": mean of the per-fold values (the paper's Table 3 mean),
     "per_class_recall": {class: float|null}, "confusion": [[int]] (rows = truth),
     "n": int, "folds": [{"fold", "test_session", "ua", "wa", "n"}],
     "aggregations": {"sum_softmax"|"mean_logprob"|"majority": {the same keys}},
     "best_epochs": [int], "num_utts", "num_frames", "config": {...}}

Folds, layers and the model whose ``.done`` records the same settings and inputs are not
recomputed; a changed conf, bottleneck or acoustic model recomputes what depends on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asr2emo.emotion.settings import add_emotion_args
from asr2emo.emotion.stage import train_emotion
from asr2emo.utils.config import ConfArgumentParser
from asr2emo.utils.devices import setup_device
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bottleneck_dir", type=Path, help="stage 7 output: <layer>/cuts.jsonl.gz")
    p.add_argument("emotion_dir", type=Path, help="output directory")
    add_emotion_args(p)
    return p


def main(args: argparse.Namespace) -> int:
    setup_logging(args.emotion_dir / "log" / "train_emotion.log")
    setup_device(args)
    return train_emotion(args)
