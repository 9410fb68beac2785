"""Emotion systems beyond the paper on stage 8's folds: utterance heads, layer mixing, fusion.

Reads stage 8 (``<emotion-dir>/<layer>/fold-<k>/{head.pt,predictions.jsonl,history.json}``),
the stage-7 bottleneck of that layer, every layer's bottleneck (the layer sweep's extraction)
and the eGeMAPS functionals of the baselines' cache (computed when missing), and writes under
``<exp-dir>``::

    fold-<k>/scores.json          every system's validation and test posteriors, fusion
                                  weights, learned layer weights, validation UAs, the choice
    <system>/fold-<k>/predictions.jsonl, <system>/metrics.json   stage 8's schema
    deploy/scores.json            the same choice with every session as the pool (no test
                                  fold): the system a user should deploy
    deploy/model/                 that system for ``asr2emo predict`` (systems.export)
    comparison.md, comparison.json  UA/WA mean +- sd over folds, paired differences vs paper
    metrics.json                  {"systems": {name: {"ua", "wa"}} (fold means), "deploy"}
    layer_weights.png, layer_weights.json

Systems and the choice on training-session speakers: :mod:`asr2emo.systems.run`. The
frame-level heads are trained with stage 8's settings, read from ``--emotion-config`` by stage
8's own parser. A fold whose ``.done`` records the same settings and inputs is not recomputed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from asr2emo.systems.choice import CHOICES
from asr2emo.systems.heads import UtteranceHeadConfig
from asr2emo.systems.run import SELECTIONS, SystemsConfig
from asr2emo.systems.stage import run_systems
from asr2emo.utils.config import (
    ConfArgumentParser,
    add_dataclass_args,
    str2bool,
    str_list,
)
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("emotion_dir", type=Path, help="stage 8 outputs, e.g. exp/emotion")
    p.add_argument("bottleneck_dir", type=Path, help="stage 7 bottleneck, e.g. exp/bottleneck")
    p.add_argument("layers_dir", type=Path, help="every layer's bottleneck: exp/sweep/bottleneck")
    p.add_argument("manifest_dir", type=Path, help="stage-0 manifests (eGeMAPS from the audio)")
    p.add_argument("corpus", help="manifest prefix, e.g. iemocap or urdu")
    p.add_argument("exp_dir", type=Path, help="output directory, e.g. exp/systems")
    p.add_argument("--emotion-config", default="", help="stage 8's emotion.conf (seed, classes)")
    p.add_argument("--paper-layer", default="", help="stage-8 layer (default: the report's)")
    p.add_argument(
        "--layers",
        type=str_list,
        default=[],
        help="layers mixed (default: tdnn1 and every tdnnfN found in layers_dir)",
    )
    p.add_argument(
        "--features-dir",
        type=Path,
        default=None,
        help="the baselines' feature cache (default: <exp-dir>/../baselines/features)",
    )
    p.add_argument(
        "--reference-dir",
        type=Path,
        default=None,
        help="run-baselines output whose egemaps_svm row joins the table (default: sibling "
        "baselines/)",
    )
    add_dataclass_args(p, UtteranceHeadConfig, "head-")
    d = SystemsConfig()
    p.add_argument("--svm-c", type=float, default=d.svm_c)
    p.add_argument("--svm-gamma", default=d.svm_gamma)
    p.add_argument(
        "--selection",
        choices=list(SELECTIONS),
        default=d.selection,
        help="inner-cv: fusion weights and the choice from an inner leave-one-session-out over "
        "the training sessions; val-speaker: from the fold's validation speaker only",
    )
    p.add_argument(
        "--choice",
        choices=list(CHOICES),
        default=d.choice,
        help="one-se-ensemble: per fold the mean posteriors of every candidate within one "
        "standard error (over the inner folds) of the best selection UA; best: the best one",
    )
    p.add_argument(
        "--class-weights",
        type=str_list,
        default=d.class_weights,
        help="class balances every head may take (none, balanced), chosen per fold and system "
        "on the selection data; one value fixes it",
    )
    p.add_argument(
        "--frame-mix",
        type=str2bool,
        default=d.frame_mix,
        help="also the frame-level head on a mixture of every layer's frames (holds every "
        "layer's frames in memory: about 19 GB for IEMOCAP at paper scale in float16)",
    )
    p.add_argument("--num-threads", type=int, default=1, help="torch threads (CPU)")
    return p


def main(args: argparse.Namespace) -> int:
    setup_logging(args.exp_dir / "log" / "emotion_systems.log")
    torch.set_num_threads(max(1, args.num_threads))
    return run_systems(args)
