"""StreamingTimeline: chunks of any size (one sample included) give the offline timeline's
records and the whole-signal computation's posteriors (1e-5); each window's record comes out
once the audio reaches its end plus the documented latency, not a sample before; no torch."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from asr2emo.bench.synthetic import make_random_model_dir
from asr2emo.bin import export
from asr2emo.deploy.ivector import extract_online
from asr2emo.deploy.mfcc import compute_mfcc
from asr2emo.deploy.predictor import OnnxPredictor
from asr2emo.deploy.resample import resample_poly
from asr2emo.deploy.streaming import StreamingTimeline
from asr2emo.deploy.timeline import TimelineOptions, timeline
from asr2emo.utils.errors import UserError
from conftest import REPO
from test_predict_timeline import CLASSES, TINY, _speechlike

OPTS = TimelineOptions(window=2.0, hop=0.7, block=0.9)


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("streaming")
    model_dir = make_random_model_dir(root, CLASSES, "tdnnf3", TINY, num_gauss=4, pca_dim=12)
    out = root / "onnx"
    args = [str(model_dir), str(out), "--format", "onnx"]
    assert export.main(export.get_parser().parse_args(args)) == 0
    return out


@pytest.fixture(scope="module")
def predictor(onnx_dir):
    return OnnxPredictor(onnx_dir)


def _stream(predictor, x, sr, sizes):
    """All records of ``x`` fed in chunks of the given sizes (cycled), then finish()."""
    stream, out, s, i = StreamingTimeline(predictor, sr, OPTS), [], 0, 0
    while s < len(x):
        n = sizes[i % len(sizes)]
        out += stream.accept(x[s : s + n])
        s, i = s + n, i + 1
    return out + stream.finish()


def _whole_signal(predictor, x, sr, starts):
    """Reference posteriors per window start: features and i-vectors of the whole signal."""
    y = resample_poly(x, sr, 16000) if sr != 16000 else x
    feats = compute_mfcc(np.asarray(y, dtype=np.float32), predictor.bundle.mfcc_options)
    ivecs = extract_online(predictor.ivector, feats)
    refs = []
    for start in starts:
        s = round(start * 100)
        e = min(s + round(OPTS.window * 100), len(feats))
        refs.append(predictor.predict_features(feats[s:e], ivecs[s // 10 : -(-e // 10)]))
    return refs


@pytest.mark.parametrize("sr", [16000, 22050])
def test_any_chunking_equals_offline_and_whole_signal(predictor, tmp_path, sr):
    x = _speechlike(5.37, sr, seed=4)
    path = tmp_path / "a.wav"
    sf.write(str(path), x, sr, subtype="FLOAT")
    offline = list(timeline(predictor, path, OPTS))
    assert len(offline) == 6 and offline[-1]["end"] == round(len(x) / sr, 3)
    refs = _whole_signal(predictor, x, sr, [r["start"] for r in offline])
    # one-sample chunks over 0.12 s around the first window's end, 100 ms chunks elsewhere
    around = StreamingTimeline(predictor, sr, OPTS).samples_until(0) - int(0.06 * sr)
    single = [around] + [1] * int(0.12 * sr) + [sr // 10]
    rng = np.random.default_rng(sr)
    chunkings = {
        "100ms": [sr // 10],
        "37": [37],  # not a multiple of the frame shift (at any rate)
        "1601": [1601],
        "random": [int(n) for n in rng.integers(1, 5000, 200)],
        "single-sample stretch": single,
        "whole": [len(x)],
    }
    spread = 0.0
    for name, sizes in chunkings.items():
        got = _stream(predictor, x, sr, sizes)
        assert [(r["start"], r["end"], r["label"]) for r in got] == [
            (r["start"], r["end"], r["label"]) for r in offline
        ], name
        for r, off, ref in zip(got, offline, refs):
            for c in CLASSES:
                assert abs(r["posteriors"][c] - off["posteriors"][c]) <= 1e-5, name
                assert abs(r["posteriors"][c] - ref["posteriors"][c]) <= 1e-5, name
            spread = max(spread, max(r["posteriors"].values()) - min(r["posteriors"].values()))
    assert spread > 0.05  # far from uniform: the comparison is not vacuous


@pytest.mark.parametrize("sr", [16000, 44100])
def test_record_comes_out_at_window_end_plus_latency(predictor, sr):
    x = _speechlike(4.0, sr, seed=5)
    stream = StreamingTimeline(predictor, sr, OPTS)
    if sr == 16000:
        assert stream.latency == pytest.approx(0.015)  # frame length - frame shift
    else:
        assert 0.015 < stream.latency < 0.016  # + the resampling filter's right half
    got, fed = [], 0
    for k in range(3):
        need = stream.samples_until(k)
        end = k * OPTS.hop + OPTS.window
        delay = need / sr - end
        assert 0.015 - 1e-9 <= delay <= stream.latency + 1e-9, delay
        if sr == 16000:
            assert delay == pytest.approx(0.015, abs=1e-9)
        for s in range(fed, need - 1, sr // 10):  # 100 ms chunks up to one sample short
            got += stream.accept(x[s : min(s + sr // 10, need - 1)])
        assert len(got) == k, (k, got)  # not a sample early
        got += stream.accept(x[need - 1 : need])
        fed = need
        assert len(got) == k + 1 and got[k]["start"] == pytest.approx(k * OPTS.hop)
        assert got[k]["end"] == pytest.approx(end)


def test_streaming_imports_neither_torch_nor_k2(onnx_dir):
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from asr2emo.deploy.streaming import StreamingTimeline\n"
        f"s = StreamingTimeline({str(onnx_dir)!r}, 8000)\n"
        "x = np.sin(np.arange(24000) / 5.0).astype(np.float32) * 0.3\n"
        "recs = [r for i in range(0, len(x), 800) for r in s.accept(x[i : i + 800])]\n"
        "recs += s.finish()\n"
        "heavy = {'torch', 'k2', '_k2', 'lhotse'}\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & heavy), len(recs))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "LOADED [] 1" in r.stdout  # 3 s, 4 s windows every 2 s: [0, 3) only


def test_bad_input_is_one_line(predictor, onnx_dir, tmp_path):
    with pytest.raises(UserError, match="sampling_rate must be > 0"):
        StreamingTimeline(predictor, 0)
    with pytest.raises(UserError, match="sampling_rate must be an integer"):
        StreamingTimeline(predictor, 16000.5)
    with pytest.raises(UserError, match="multiple of 0.1 s"):
        StreamingTimeline(predictor, 16000, TimelineOptions(hop=0.25))
    with pytest.raises(UserError, match="not an ONNX export"):
        StreamingTimeline(tmp_path, 16000)
    stream = StreamingTimeline(onnx_dir, 16000)
    with pytest.raises(UserError, match="1-D"):
        stream.accept(np.zeros((160, 2), dtype=np.float32))
    with pytest.raises(UserError, match="floats"):
        stream.accept(np.zeros(160, dtype=np.int16))
    with pytest.raises(ValueError, match="too short"):
        stream.finish()
    with pytest.raises(UserError, match="after finish"):
        stream.accept(np.zeros(160, dtype=np.float32))
