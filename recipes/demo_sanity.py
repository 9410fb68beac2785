#!/usr/bin/env python3
"""Baseline difficulty check of an IEMOCAP-layout corpus: MFCC statistics + logistic regression.

Reads the corpus with the recipe's own parser (:func:`asr2emo.data.iemocap.prepare_iemocap`:
EmoEvaluation labels + per-utterance wavs, ang/exc/neu/sad kept), computes 40-dim hires MFCC
(kaldi-native-fbank: 40 bins, 40 ceps, low-freq 20, high-freq -400, no dither, no energy),
keeps each utterance's per-coefficient mean and standard deviation (80 values), and runs
leave-one-session-out logistic regression (standardized per fold) over ang/exc/neu/sad.
Prints each fold's unweighted accuracy (UA, mean per-class recall) and the mean UA.

Used to show the demo corpus is learnable but not trivial (UA well above 25 %, below 100 %):

    python recipes/demo_sanity.py data/corpora/IEMOCAP_full_release
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import kaldi_native_fbank as knf
import numpy as np
from lhotse import Recording
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from asr2emo.data.iemocap import prepare_iemocap
from asr2emo.utils.errors import UserError

CLASSES = ("ang", "exc", "neu", "sad")


def read_labels(root: Path) -> List[Tuple[int, Recording, str]]:
    """(session, recording, label) of every kept utterance, via the stage-0 IEMOCAP parser."""
    recordings, supervisions, _ = prepare_iemocap(root, classes=CLASSES)
    return [
        (int(s.custom["session"]), recordings[s.recording_id], s.custom["emotion"])
        for s in supervisions
    ]


def mfcc_stats(rec: Recording, opts: knf.MfccOptions) -> np.ndarray:
    """Mean and std over frames of the 40-dim hires MFCC of one recording."""
    samples = rec.load_audio()[0] * 32768.0  # Kaldi scale (int16 range)
    mfcc = knf.OnlineMfcc(opts)
    mfcc.accept_waveform(float(rec.sampling_rate), samples.tolist())
    mfcc.input_finished()
    feats = np.array([mfcc.get_frame(i) for i in range(mfcc.num_frames_ready)])
    return np.concatenate([feats.mean(axis=0), feats.std(axis=0)])


def hires_options() -> knf.MfccOptions:
    opts = knf.MfccOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = 16000
    opts.mel_opts.num_bins = 40
    opts.mel_opts.low_freq = 20.0
    opts.mel_opts.high_freq = -400.0
    opts.num_ceps = 40
    opts.use_energy = False
    return opts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("iemocap_dir", type=Path, help="IEMOCAP_full_release-layout directory")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the LR")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        items = read_labels(args.iemocap_dir)
    except UserError as e:
        print(f"demo_sanity.py: error: {e}", file=sys.stderr)
        return 1
    opts = hires_options()
    x = np.stack([mfcc_stats(rec, opts) for _, rec, _ in items])
    y = np.array([CLASSES.index(lab) for _, _, lab in items])
    sessions = np.array([s for s, _, _ in items])
    counts: Dict[int, List[int]] = {
        s: [int(np.sum((sessions == s) & (y == k))) for k in range(4)] for s in range(1, 6)
    }
    print(f"{len(items)} utterances; ang/exc/neu/sad per session: {counts}")
    uas = []
    cm = np.zeros((4, 4), dtype=int)
    for s in range(1, 6):
        train, test = sessions != s, sessions == s
        model = make_pipeline(StandardScaler(), LogisticRegression(C=args.c, max_iter=5000))
        model.fit(x[train], y[train])
        pred = model.predict(x[test])
        ua = balanced_accuracy_score(y[test], pred)
        cm += confusion_matrix(y[test], pred, labels=range(4))
        uas.append(ua)
        print(f"fold Session{s}: UA {100 * ua:.1f} %")
    print(f"mean UA {100 * np.mean(uas):.1f} %")
    print("confusion (rows true, cols predicted; ang exc neu sad):")
    print(cm)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
