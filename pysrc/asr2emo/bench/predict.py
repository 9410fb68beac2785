"""``asr2emo predict`` speed: real-time factor of one file through MFCC, online i-vectors, the
paper-size TDNN-F up to layer 12 and the emotion head (random weights: timing only)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def run(quick: bool = False) -> dict:
    from asr2emo.emotion.predict import EmotionPredictor
    from asr2emo.emotion.synthetic import make_random_model_dir

    seconds = 3.0 if quick else 20.0
    tdnnf = {} if not quick else dict(hidden_dim=256, ivector_dim=20)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = make_random_model_dir(
            Path(tmp), tdnnf_kwargs=tdnnf, num_gauss=64 if quick else 512
        )
        rng = np.random.default_rng(0)
        sr = 44100
        t = np.arange(int(seconds * sr)) / sr
        x = 0.3 * np.sin(2 * np.pi * 150 * t) + 0.01 * rng.standard_normal(t.shape)
        wav = Path(tmp) / "stereo44k.wav"
        sf.write(str(wav), np.stack([x, 0.5 * x], axis=1).astype(np.float32), sr)
        t0 = time.time()
        predictor = EmotionPredictor(model_dir)
        load_s = time.time() - t0
        predictor.predict_file(wav)  # warm-up
        runs = 1 if quick else 3
        t0 = time.time()
        for _ in range(runs):
            predictor.predict_file(wav)
        per_file = (time.time() - t0) / runs
    return {
        "figure": round(per_file / seconds, 4),
        "unit": "real-time factor (processing s / audio s, 1 thread)",
        "audio_s": seconds,
        "per_file_s": round(per_file, 3),
        "model_load_s": round(load_s, 3),
        "input": "44.1 kHz stereo wav (downmix + resample)",
        "paper_size_model": not quick,
    }
