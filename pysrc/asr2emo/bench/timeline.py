"""Benchmark: ``asr2emo predict --timeline`` from an ONNX export at PAPER size, 1 thread: RTF and
peak RSS for 1, 10 and 60 minutes, and the same windows through ONNX and TorchScript.

The model is the ``predict`` entry's random paper-size model dir (conf/tdnnf.conf up to tdnnf12,
UBM 512, i-vector dim 100; :func:`asr2emo.bench.synthetic.make_random_model_dir`), exported
with ``--format onnx`` and as TorchScript. Inputs: 16 kHz mono 16-bit wav files of drifting
tones plus noise, written a minute at a time; windows of conf/timeline.conf (4 s every 2 s).

Each length runs :func:`asr2emo.deploy.timeline.timeline` in a fresh process pinned to one core
(:mod:`asr2emo.bench._fresh`: its peak RSS is its own, not this torch-loaded process's); the
figure is the RTF on the longest input (goal <= 0.02, cost linear: ``ratio_60_10`` = 6), and
``rss_ratio_60_1`` is its peak RSS over the 1-minute one's (goal <= 1.10). ``onnx_vs_torchscript``
runs the 10-minute timeline twice in this process, with the same feature side (numpy) and each
window's network in onnxruntime or in the TorchScript module (``torch.jit``, 1 thread).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List

import numpy as np
import soundfile as sf

from asr2emo.bench._fresh import run_forked
from asr2emo.deploy.predictor import OnnxPredictor
from asr2emo.deploy.timeline import TimelineOptions, timeline

REPO = Path(__file__).resolve().parents[3]


def speechlike(seconds: float, sr: int, seed: int) -> np.ndarray:
    """Tones whose pitch and loudness drift, plus noise (frames differ along the recording)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.13 * t)
    x = 0.3 * np.sin(2 * np.pi * np.cumsum(f0) / sr) * (1 + 0.8 * np.sin(2 * np.pi * 0.31 * t))
    return (x + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def write_long_wav(path: Path, minutes: float, sr: int = 16000) -> Path:
    """A 16-bit wav of ``minutes``, written a minute at a time (never held whole)."""
    with sf.SoundFile(str(path), "w", sr, 1, subtype="PCM_16") as f:
        left, seed = minutes * 60.0, 0
        while left > 0:
            f.write(speechlike(min(60.0, left), sr, seed))
            left, seed = left - 60.0, seed + 1
    return path


def build_exports(root: Path, size: str = "paper") -> tuple[Path, Path]:
    """The ONNX and TorchScript exports of a random model dir of ``size`` (bench.predict)."""
    from asr2emo.bench.predict import SIZES
    from asr2emo.bench.synthetic import make_random_model_dir
    from asr2emo.emotion.onnx_export import export_onnx_dir
    from asr2emo.emotion.torchscript import export_model_dir
    from asr2emo.model.tdnnf import read_model_config

    conf, num_gauss = SIZES[size]
    cfg = asdict(read_model_config(str(conf)))
    model_dir = make_random_model_dir(root, tdnnf_kwargs=cfg, num_gauss=num_gauss)
    export_onnx_dir(model_dir, root / "onnx")
    export_model_dir(model_dir, root / "ts")
    return root / "onnx", root / "ts"


class _Timed:
    """A predictor whose ``predict_features`` (each window's network) adds to ``seconds``."""

    def __init__(self, predictor, predict_features=None) -> None:
        self.bundle, self.ivector = predictor.bundle, predictor.ivector
        self.sampling_rate = predictor.sampling_rate
        self._predict = predict_features or predictor.predict_features
        self.seconds = 0.0

    def predict_features(self, feats: np.ndarray, ivecs: np.ndarray) -> Dict:
        t0 = time.perf_counter()
        out = self._predict(feats, ivecs)
        self.seconds += time.perf_counter() - t0
        return out


def _run_timeline(predictor, wav: Path) -> tuple[List[dict], float]:
    """The records of ``wav`` (conf/timeline.conf's windows) and the seconds they took."""
    t0 = time.perf_counter()
    records = list(timeline(predictor, wav, TimelineOptions()))
    return records, time.perf_counter() - t0


def time_timeline(argv: List[str]) -> int:
    """``ONNX_DIR WAV``: load, run the timeline once, print ``BENCH-LENGTH {json}`` (the child
    of :func:`measure_length`, on one core)."""
    onnx_dir, wav = argv
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    t0 = time.perf_counter()
    predictor = _Timed(OnnxPredictor(onnx_dir, num_threads=1))
    load_s = time.perf_counter() - t0
    records, seconds = _run_timeline(predictor, Path(wav))
    audio_s = sf.info(wav).duration
    result = {
        "seconds": seconds,
        "network_s": predictor.seconds,
        "audio_s": audio_s,
        "records": len(records),
        "load_s": load_s,
        "torch_loaded": "torch" in sys.modules,
    }
    print("BENCH-LENGTH " + json.dumps(result), flush=True)
    return 0


def measure_length(onnx_dir: Path, wav: Path) -> Dict:
    """The timeline of ``wav`` in a fresh process: seconds, network seconds, records, peak RSS."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = str(REPO / "pysrc") + os.pathsep + env.get("PYTHONPATH", "")
    proc, peak_kb = run_forked(
        "asr2emo.bench.timeline:time_timeline", [onnx_dir, wav], cwd=REPO, timeout=3600, env=env
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("BENCH-LENGTH ")]
    if proc.returncode != 0 or not lines or peak_kb is None:
        sys.stderr.write(proc.stderr[-3000:])
        raise RuntimeError(f"timeline child failed (exit status {proc.returncode})")
    result = json.loads(lines[-1][len("BENCH-LENGTH ") :])
    if result.pop("torch_loaded"):
        raise RuntimeError(
            "the timeline child imported torch: its peak RSS would not be the deploy path's"
        )
    return {**result, "peak_rss_mb": peak_kb / 1024}


def side_by_side(onnx_dir: Path, ts_dir: Path, wav: Path) -> Dict:
    """The timeline of ``wav`` with each window's network in onnxruntime, then in TorchScript
    (same numpy feature side): RTF and network seconds of each, and their largest difference."""
    import torch

    from asr2emo.emotion.torchscript import TorchScriptPredictor

    torch.set_num_threads(1)
    onnx = OnnxPredictor(onnx_dir, num_threads=1)
    ts = TorchScriptPredictor(ts_dir)
    audio_s = sf.info(str(wav)).duration
    out: Dict = {"minutes": round(audio_s / 60, 2)}
    records = {}
    for name, predictor in (
        ("onnx", _Timed(onnx)),
        ("torchscript", _Timed(onnx, ts.predict_features)),
    ):
        predictor.predict_features(*_warm_up(onnx))
        predictor.seconds = 0.0
        records[name], seconds = _run_timeline(predictor, wav)
        out[f"rtf_{name}"] = round(seconds / audio_s, 4)
        out[f"network_s_{name}"] = round(predictor.seconds, 2)
    diff = max(
        abs(a["posteriors"][c] - b["posteriors"][c])
        for a, b in zip(records["onnx"], records["torchscript"])
        for c in a["posteriors"]
    )
    out["max_posterior_diff"] = float(f"{diff:.2g}")
    out["same_labels"] = [r["label"] for r in records["onnx"]] == [
        r["label"] for r in records["torchscript"]
    ]
    return out


def _warm_up(predictor: OnnxPredictor) -> tuple[np.ndarray, np.ndarray]:
    """A 4 s window of random inputs (first calls of both runtimes allocate and optimize)."""
    rng = np.random.default_rng(0)
    feat_dim, iv_dim = predictor.config["feat_dim"], predictor.config["ivector_dim"]
    feats = rng.standard_normal((400, feat_dim)).astype(np.float32)
    return feats, rng.standard_normal((40, iv_dim)).astype(np.float32)


def run(quick: bool = False) -> dict:
    minutes = (0.1, 0.25, 0.5) if quick else (1, 10, 60)
    side_minutes = minutes[1]
    per: Dict[float, Dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        onnx_dir, ts_dir = build_exports(Path(tmp))
        build_s = time.perf_counter() - t0
        onnx_mb = (onnx_dir / "model.onnx").stat().st_size / 2**20
        for m in minutes:
            wav = write_long_wav(Path(tmp) / f"{m:g}min.wav", m)
            per[m] = measure_length(onnx_dir, wav)
            if m != side_minutes:
                wav.unlink()
        side = side_by_side(onnx_dir, ts_dir, Path(tmp) / f"{side_minutes:g}min.wav")
    first, mid, last = minutes[0], minutes[1], minutes[-1]

    def key(m: float) -> str:
        return f"{m:g}min"

    return {
        "figure": round(per[last]["seconds"] / per[last]["audio_s"], 4),
        "unit": f"timeline RTF, paper size ONNX, {last:g} min",
        "goal": "RTF <= 0.02 and linear; peak RSS of 60 min within 10 % of 1 min",
        "rtf": {key(m): round(p["seconds"] / p["audio_s"], 4) for m, p in per.items()},
        "network_share": {key(m): round(p["network_s"] / p["seconds"], 2) for m, p in per.items()},
        "seconds": {key(m): round(p["seconds"], 2) for m, p in per.items()},
        f"ratio_{key(last)}_{key(mid)}": round(per[last]["seconds"] / per[mid]["seconds"], 2),
        "length_ratio": round(last / mid, 2),
        "peak_rss_mb_per_length": {key(m): round(p["peak_rss_mb"], 1) for m, p in per.items()},
        f"rss_ratio_{key(last)}_{key(first)}": round(
            per[last]["peak_rss_mb"] / per[first]["peak_rss_mb"], 3
        ),
        "records": {key(m): p["records"] for m, p in per.items()},
        "onnx_vs_torchscript": side,
        "model_load_s": round(per[last]["load_s"], 2),
        "model_onnx_mb": round(onnx_mb, 1),
        "build_exports_s": round(build_s, 1),
        "input": "16 kHz mono 16-bit wav, windows 4 s every 2 s (conf/timeline.conf)",
        "timing": "one run per length, each in a fresh process on one core, 1 thread",
    }
