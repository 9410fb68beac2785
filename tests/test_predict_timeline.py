"""asr2emo predict --timeline: windows equal the whole-file computation by independent tools,
cover the recording with overlaps of exactly window - hop, memory stays flat from 1 to 30
minutes, and an undecodable block ends its file with one error line naming the offset."""

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from asr2emo.bench._fresh import run_forked
from asr2emo.bench.synthetic import make_random_model_dir
from asr2emo.bin import export, predict
from asr2emo.deploy.mfcc import compute_mfcc
from asr2emo.deploy.predictor import OnnxPredictor
from asr2emo.ivector import IvectorExtractor
from asr2emo.utils.errors import UserError
from conftest import REPO

CLASSES = ["ang", "exc", "neu", "sad"]
TINY = dict(
    ivector_dim=4,
    num_layers=4,
    hidden_dim=16,
    bottleneck_dim=8,
    prefinal_dim=8,
    time_strides=[1, 1, 3],
)


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("timeline")
    model_dir = make_random_model_dir(root, CLASSES, "tdnnf3", TINY, num_gauss=4, pca_dim=12)
    out = root / "onnx"
    assert (
        export.main(export.get_parser().parse_args([str(model_dir), str(out), "--format", "onnx"]))
        == 0
    )
    return out


def _speechlike(seconds, sr, seed):
    """Tones whose pitch and loudness drift, plus noise: frames differ along the recording."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.13 * t)
    x = 0.3 * np.sin(2 * np.pi * np.cumsum(f0) / sr) * (1 + 0.8 * np.sin(2 * np.pi * 0.31 * t))
    return (x + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def _run(capsys, args):
    rc = predict.main(predict.get_parser().parse_args([str(a) for a in args]))
    return rc, [json.loads(x) for x in capsys.readouterr().out.splitlines()]


def test_windows_equal_whole_file_and_cover_it(onnx_dir, tmp_path, capsys):
    sr, seconds, window, hop = 22050, 9.37, 3.0, 1.0
    x = _speechlike(seconds, sr, seed=1)
    path = tmp_path / "a.flac"
    sf.write(str(path), np.stack([x, 0.2 * x[::-1]], axis=1), sr)  # channel 0 is used
    args = ["--timeline", "--window", window, "--hop", hop, "--block", 0.77, onnx_dir, path]
    rc, lines = _run(capsys, args)
    assert rc == 0
    # coverage: starts every hop from 0, each window ends where the next starts + (window - hop)
    starts, ends = [r["start"] for r in lines], [r["end"] for r in lines]
    assert starts == pytest.approx([k * hop for k in range(len(lines))])
    assert ends[-1] == pytest.approx(seconds) and ends[-2] < seconds
    for k in range(len(lines) - 1):
        assert ends[k] == pytest.approx(starts[k + 1] + window - hop)
    # reference: the whole file at once, resampled by scipy, i-vectors by the torch extractor
    audio, _ = sf.read(str(path), dtype="float32")
    y = scipy.signal.resample_poly(audio[:, 0].astype(np.float64), 320, 441)
    p = OnnxPredictor(onnx_dir)
    feats = compute_mfcc(y.astype(np.float32), p.bundle.mfcc_options)
    ivecs = IvectorExtractor.load(onnx_dir.parent / "model" / "ivector").extract_online(feats)
    spread = 0.0
    for r in lines:
        s, e = round(r["start"] * 100), min(round(r["start"] * 100) + 300, len(feats))
        ref = p.predict_features(feats[s:e], ivecs[s // 10 : -(-e // 10)])
        assert r["path"] == str(path) and r["label"] in CLASSES
        for c in CLASSES:
            assert abs(r["posteriors"][c] - ref["posteriors"][c]) < 1e-4
        spread = max(spread, max(r["posteriors"].values()) - min(r["posteriors"].values()))
    assert spread > 0.05


def test_corrupt_block_is_one_error_line_with_the_offset(onnx_dir, tmp_path, capsys):
    x = _speechlike(10.0, 16000, seed=2)
    bad, good = tmp_path / "bad.flac", tmp_path / "good.wav"
    sf.write(str(bad), x, 16000)
    data = bytearray(bad.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 4000] = (
        np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    )
    bad.write_bytes(bytes(data))
    sf.write(str(good), x[:32000], 16000)
    rc, lines = _run(capsys, ["--timeline", "--block", 0.5, onnx_dir, bad, good])
    assert rc == 1
    errors = [r for r in lines if "error" in r]
    assert len(errors) == 1 and errors[0]["path"] == str(bad)
    assert errors[0]["error"].startswith("unreadable after ")
    offset = float(errors[0]["error"].split()[2])
    assert 2.0 < offset < 8.0  # the middle of the file, not its start or end
    before = lines[: lines.index(errors[0])]
    assert before and all(r["path"] == str(bad) and r["end"] <= offset + 0.5 for r in before)
    assert [r["path"] for r in lines[lines.index(errors[0]) + 1 :]] == [str(good)]


def test_bad_timeline_options_are_one_line(onnx_dir, tmp_path):
    with pytest.raises(UserError, match="exceeds --window"):
        predict.main(
            predict.get_parser().parse_args(
                ["--timeline", "--window", "2", "--hop", "3", str(onnx_dir), "a.wav"]
            )
        )
    with pytest.raises(UserError, match="multiple of 0.1 s"):
        predict.main(
            predict.get_parser().parse_args(["--timeline", "--hop", "0.25", str(onnx_dir), "a.wav"])
        )
    with pytest.raises(UserError, match="needs an ONNX export"):
        predict.main(
            predict.get_parser().parse_args(["--timeline", str(onnx_dir.parent / "model"), "a.wav"])
        )


def _write_long(path, minutes, sr=16000):
    """A recording written one minute at a time (the test process never holds it whole)."""
    with sf.SoundFile(str(path), "w", sr, 1, subtype="PCM_16") as f:
        for m in range(minutes):
            f.write(_speechlike(60.0, sr, seed=m))


def test_memory_does_not_grow_with_length(onnx_dir, tmp_path):
    peaks, counts = {}, {}
    for minutes in (1, 30):
        path = tmp_path / f"{minutes}min.wav"
        _write_long(path, minutes)
        args = ["predict", "--timeline", "--window", "10", "--hop", "10", str(onnx_dir), str(path)]
        # in a fork of a fresh interpreter: this process's peak (torch) would carry over
        r, peaks[minutes] = run_forked("asr2emo.cli:main", args, cwd=REPO, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        counts[minutes] = len(lines)
        assert lines[-1]["end"] == pytest.approx(60.0 * minutes)
        path.unlink()
    assert counts == {1: 6, 30: 180}
    # the 30-minute samples alone are 115 MB as float32: holding them would show
    assert peaks[30] - peaks[1] < 20 * 1024, peaks


def test_a_reader_that_stops_early_gets_no_traceback(onnx_dir, tmp_path):
    path = tmp_path / "a.wav"
    sf.write(str(path), _speechlike(60.0, 16000, seed=3), 16000)
    # 600 lines of ~150 bytes: more than a pipe buffer, so the writer meets the closed pipe
    cmd = [sys.executable, "-m", "asr2emo", "predict", "--timeline", "--window", "0.1"]
    cmd += ["--hop", "0.1", str(onnx_dir), str(path)]
    r = subprocess.run(
        f"{' '.join(cmd)} | head -1", shell=True, cwd=REPO, capture_output=True, text=True
    )
    assert json.loads(r.stdout)["start"] == 0.0
    assert "Traceback" not in r.stderr and "Broken pipe" not in r.stderr
