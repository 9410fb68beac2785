"""Emotion baselines on exactly the folds of stage 8, compared with transfer learning.

Reads the stage-0 manifests ``<manifest-dir>/<corpus>_{recordings,supervisions}_*.jsonl.gz``,
builds stage 8's leave-one-session-out folds (same function, seed and classes as
``--emotion-config``), checks them against ``<emotion-dir>/<layer>/fold-*/predictions.jsonl``
when present, and writes under ``<exp-dir>``::

    features/{egemaps,mfcc_stats,ivector}.npz   cached utterance features (ids, feats, meta)
    <system>/fold-<k>/predictions.jsonl          {"id", "speaker", "session", "label", "pred"}
    <system>/metrics.json                        stage 8's schema: ua, wa (pooled), folds[...]
                                                 .ua/.wa, ua_fold_mean, per_class_recall, ...
    comparison.json, comparison.md               UA/WA mean ± std over folds, paired
                                                 differences against the transfer system

Systems: ``egemaps_svm``, ``mfcc_lr``, ``ivector_lr`` (see :mod:`asr2emo.baselines.classical`)
and ``tdnnf_scratch``, the transfer system's TDNN-F + head trained from scratch on the emotion
data (:mod:`asr2emo.baselines.scratch`; inputs cached in ``features/frames.npz``).
A system dir with ``.done`` is not recomputed; the comparison is always rewritten.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asr2emo.baselines.classical import SYSTEMS, ClassicalConfig
from asr2emo.baselines.run import ALL_SYSTEMS, run_baselines
from asr2emo.baselines.scratch import ScratchConfig
from asr2emo.utils.config import ConfArgumentParser, str_list
from asr2emo.utils.devices import add_device_args, setup_device
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("manifest_dir", type=Path, help="stage-0 manifests")
    p.add_argument("corpus", help="manifest prefix, e.g. iemocap or urdu")
    p.add_argument("exp_dir", type=Path, help="output directory, e.g. exp/baselines")
    p.add_argument(
        "--systems",
        type=str_list,
        default=list(SYSTEMS),
        help=f"comma list among {','.join(ALL_SYSTEMS)}",
    )
    p.add_argument(
        "--emotion-config",
        default="",
        help="stage 8's conf (emotion.conf): the folds' --seed and --classes are read from it",
    )
    p.add_argument(
        "--mfcc-config", default="", help="mfcc_hires.conf of the MFCC and i-vector features"
    )
    p.add_argument("--ivector-dir", type=Path, default=None, help="stage-3 i-vector extractor")
    p.add_argument(
        "--emotion-dir",
        type=Path,
        default=None,
        help="stage 8 outputs: folds are checked against them, the transfer system is read",
    )
    p.add_argument(
        "--transfer-layer",
        default="",
        help="stage-8 layer of the transfer system; empty: the report's choice "
        "(deployable model's layer, else tdnnf12, else best UA)",
    )
    d = ClassicalConfig()
    p.add_argument("--svm-c", type=float, default=d.svm_c, help="SVM regularization C")
    p.add_argument("--svm-gamma", default=d.svm_gamma, help="rbf gamma: scale, auto or a number")
    p.add_argument("--lr-c", type=float, default=d.lr_c, help="logistic regression C")
    p.add_argument("--lr-max-iter", type=int, default=d.lr_max_iter)
    p.add_argument("--class-weight", choices=["none", "balanced"], default=d.class_weight)
    p.add_argument(
        "--train-on",
        choices=["train+val", "train"],
        default=d.train_on,
        help="train+val: every utterance outside the test session; train: stage 8's "
        "training speakers only (its validation speaker left out)",
    )
    s = ScratchConfig()
    p.add_argument(
        "--tdnnf-config", default="", help="tdnnf.conf of the from-scratch TDNN-F (stage 4's)"
    )
    p.add_argument("--scratch-layer", default=s.layer, help="bottleneck layer fed to the head")
    p.add_argument("--scratch-lr", type=float, default=s.lr, help="Adam learning rate")
    p.add_argument("--scratch-max-epochs", type=int, default=s.max_epochs)
    p.add_argument("--scratch-patience", type=int, default=s.patience)
    p.add_argument(
        "--scratch-batch-frames", type=int, default=s.batch_frames, help="padded input frames"
    )
    p.add_argument("--scratch-dropout", type=float, default=s.dropout, help="head dropout")
    add_device_args(p)
    return p


def main(args: argparse.Namespace) -> int:
    setup_logging(args.exp_dir / "log" / "run_baselines.log")
    args.device = str(setup_device(args))
    return run_baselines(args)
