"""Stage 8's settings (``conf/emotion.conf``): its options, and their one reader for other verbs.

Stage 8 (``asr2emo train-emotion``) adds its options with :func:`add_emotion_args`; the verbs
that reuse its head, classes or fold seed (run-baselines, emotion-systems, train-dimensional,
finetune-emotion, cross-corpus) read the same conf file with :func:`read_emotion_conf`, which
parses it with those same options. So every stage-8 key is valid for all of them, an unknown key
is the same error everywhere, and each default is written once (:class:`HeadConfig`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

from asr2emo.emotion.train import HeadConfig
from asr2emo.utils.config import (
    ConfArgumentParser,
    add_dataclass_args,
    dataclass_from_args,
    str_list,
)
from asr2emo.utils.devices import add_device_args


@dataclass
class EmotionSettings:
    """What other verbs take from stage 8: the head and its training (``head.seed`` also seeds
    the folds), the classes in order (empty: the sorted labels found) and the in-memory type
    of the bottleneck frames."""

    head: HeadConfig
    classes: List[str]
    frame_dtype: str = "float32"


def add_emotion_args(p: argparse.ArgumentParser) -> None:
    """Every option of stage 8 but its positional directories."""
    p.add_argument(
        "--layers",
        type=str_list,
        default=[],
        help="layers to evaluate (comma list); empty: every finished layer dir",
    )
    p.add_argument(
        "--classes",
        type=str_list,
        default=[],
        help="class labels in order (comma list); empty: the sorted labels found",
    )
    add_dataclass_args(p, HeadConfig)
    p.add_argument(
        "--model-layer",
        default="",
        help="layer of the deployable model; empty: the layer with the best validation UA "
        "(mean over folds on the early-stopping speakers; never the test folds)",
    )
    p.add_argument(
        "--acoustic-model-dir",
        type=Path,
        default=None,
        help="acoustic model dir to copy into model/; default: from the bottleneck "
        "dir's metadata, else <bottleneck-dir>/../tdnnf",
    )
    p.add_argument(
        "--ivector-dir",
        type=Path,
        default=None,
        help="i-vector extractor dir to copy; default: <bottleneck-dir>/../ivector",
    )
    add_frame_dtype_arg(p)
    add_device_args(p)


def add_frame_dtype_arg(p: argparse.ArgumentParser) -> None:
    """``--frame-dtype``: the in-memory type of bottleneck frames (stage 8 and the verbs that
    load frames the same way)."""
    p.add_argument(
        "--frame-dtype",
        choices=["float32", "float16"],
        default="float32",
        help="in-memory type of the bottleneck frames (float16 halves the memory)",
    )


def head_config(args: argparse.Namespace) -> HeadConfig:
    """The head's settings from the options :func:`add_emotion_args` added."""
    return dataclass_from_args(HeadConfig, args)


def read_emotion_conf(conf: Optional[Union[str, Path]]) -> EmotionSettings:
    """Stage 8's settings from its conf file (None or empty: the defaults), parsed with stage
    8's own options."""
    p = ConfArgumentParser()
    add_emotion_args(p)
    args = p.parse_args(["--config", str(conf)] if conf else [])
    return EmotionSettings(
        head=head_config(args), classes=list(args.classes), frame_dtype=args.frame_dtype
    )
