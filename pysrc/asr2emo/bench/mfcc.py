"""Benchmark: hires MFCC x real-time through our lhotse path vs a bare kaldi-native-fbank loop.

Both read the same 16 kHz wav files from disk. The figure is our extractor through lhotse
(:class:`KaldiMfccHires` on cuts, arrays kept in memory) against the bare loop calling
``kaldi_native_fbank.OnlineMfcc`` per file (goal: ratio >= 0.9). The stage-2 path that also
compresses and writes the arrays (``CutSet.compute_and_store_features`` with the recipe's
lilcom writer, lhotse's storage, not the extractor) is timed too and reported beside it.
Speech is ../shared/data/urdu resampled to 16 kHz when present, else a seeded synthetic signal.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import List

import kaldi_native_fbank as knf
import numpy as np
import soundfile as sf
import torch

from asr2emo.features.mfcc import KaldiMfccHires, KaldiMfccHiresConfig
from asr2emo.features.storage import feature_writer_type

URDU = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "urdu"


def make_wavs(directory: Path, seconds: float) -> List[Path]:
    """16 kHz wav files adding up to about ``seconds`` of speech."""
    from lhotse import Recording

    paths: List[Path] = []
    total = 0.0
    sources = sorted(URDU.glob("*/*.wav")) if URDU.is_dir() else []
    rng = np.random.default_rng(0)
    i = 0
    while total < seconds:
        if sources:
            rec = Recording.from_file(sources[i % len(sources)]).resample(16000)
            audio = rec.load_audio()[0]
        else:
            audio = (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32)
        path = directory / f"utt{i:04d}.wav"
        sf.write(path, audio, 16000, subtype="PCM_16")
        paths.append(path)
        total += len(audio) / 16000
        i += 1
    return paths


def bare_loop(paths: List[Path], config: KaldiMfccHiresConfig) -> int:
    opts = config.to_knf()
    frames = 0
    for p in paths:
        audio, sr = sf.read(p, dtype="float32")
        comp = knf.OnlineMfcc(opts)
        comp.accept_waveform(sr, audio * 32768.0)
        comp.input_finished()
        feats = np.stack([comp.get_frame(i) for i in range(comp.num_frames_ready)])
        frames += feats.shape[0]
    return frames


def make_cuts(paths: List[Path]):
    from lhotse import CutSet, Recording, RecordingSet

    recs = RecordingSet.from_recordings(Recording.from_file(p) for p in paths)
    return CutSet.from_manifests(recordings=recs).to_eager()


def ours(cuts, config: KaldiMfccHiresConfig, storage: Path) -> int:
    """The recipe path: load audio, extract, store, validate (lhotse)."""
    cuts = cuts.compute_and_store_features(
        KaldiMfccHires(config),
        storage,
        num_jobs=1,
        storage_type=feature_writer_type(),
        progress_bar=False,
    )
    return sum(c.num_frames for c in cuts)


def ours_no_store(cuts, config: KaldiMfccHiresConfig) -> int:
    """lhotse's in-memory path (``cut.compute_features``): the same minus array storage."""
    extractor = KaldiMfccHires(config)
    return sum(c.compute_features(extractor).shape[0] for c in cuts)


def run(quick: bool = False) -> dict:
    torch.set_num_threads(1)
    seconds = 30.0 if quick else 300.0
    config = KaldiMfccHiresConfig()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = make_wavs(tmp, seconds)
        audio_seconds = sum(sf.info(p).duration for p in paths)
        cuts = make_cuts(paths)
        writer = feature_writer_type()
        bare_loop(paths[:2], config)  # warm-up
        best = {"bare": float("inf"), "ours": float("inf"), "no_store": float("inf")}
        for rep in range(5):
            for name, fn in (
                ("bare", lambda: bare_loop(paths, config)),
                ("ours", lambda: ours(cuts, config, tmp / f"feats{rep}")),
                ("no_store", lambda: ours_no_store(cuts, config)),
            ):
                t = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t)
    bare_x, stored_x = audio_seconds / best["bare"], audio_seconds / best["ours"]
    ours_x = audio_seconds / best["no_store"]
    return {
        "figure": round(ours_x, 1),
        "unit": "x real-time, our extractor via lhotse",
        "bare_x_rt": round(bare_x, 1),
        "ratio": round(ours_x / bare_x, 3),
        "goal": "ratio >= 0.9",
        "with_storage_x_rt": round(stored_x, 1),
        "ratio_with_storage": round(stored_x / bare_x, 3),
        "audio_seconds": round(audio_seconds, 1),
        "files": len(paths),
        "storage": writer.__name__,
        "timing": "best of 5, one process, one thread; both read the wav files",
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv)))
