"""asr2emo predict: any rate/channels, error lines for bad files, exit status (tiny real models)."""

import json

import numpy as np
import pytest
import soundfile as sf

from asr2emo.bench.synthetic import make_random_model_dir
from asr2emo.bin import predict
from asr2emo.emotion.predict import EmotionPredictor
from conftest import write_tone

CLASSES = ["ang", "exc", "neu", "sad"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    tiny = dict(
        ivector_dim=4,
        num_layers=4,
        hidden_dim=16,
        bottleneck_dim=8,
        prefinal_dim=8,
        time_strides=[1, 1, 3],
    )
    return make_random_model_dir(
        tmp_path_factory.mktemp("predict"), CLASSES, "tdnnf3", tiny, num_gauss=4, pca_dim=12
    )


def _run(capsys, args):
    rc = predict.main(predict.get_parser().parse_args([str(a) for a in args]))
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    return rc, lines


def test_stereo_44k_and_bad_file(model_dir, tmp_path, capsys):
    mono = write_tone(tmp_path / "mono16k.wav", 1.0, sr=16000)
    x, _ = sf.read(str(mono))
    # channel 0 is the mono signal, channel 1 something else: channel 0 is used, as in training
    sf.write(str(tmp_path / "stereo16k.wav"), np.stack([x, 0.1 * x[::-1]], axis=1), 16000)
    t = np.arange(44100) / 44100
    y = 0.3 * np.sin(2 * np.pi * 150 * t)
    sf.write(str(tmp_path / "stereo44k.flac"), np.stack([y, 0.5 * y], axis=1), 44100)
    (tmp_path / "notaudio.wav").write_text("this is not audio\n")
    files = [
        mono,
        tmp_path / "stereo16k.wav",
        tmp_path / "stereo44k.flac",
        tmp_path / "notaudio.wav",
        tmp_path / "missing.wav",
    ]
    rc, lines = _run(capsys, [model_dir] + files)
    assert rc == 1
    assert [r["path"] for r in lines] == [str(f) for f in files]
    for r in lines[:3]:
        assert r["label"] in CLASSES and set(r["posteriors"]) == set(CLASSES)
        assert abs(sum(r["posteriors"].values()) - 1) < 1e-4
    assert lines[0]["posteriors"] == lines[1]["posteriors"]
    assert "error" in lines[3] and "error" in lines[4] and "label" not in lines[3]


def test_all_good_exit_zero_and_frame_rate(model_dir, tmp_path, capsys):
    f = write_tone(tmp_path / "a.wav", 0.9, sr=22050)
    rc, lines = _run(capsys, [model_dir, f])
    assert rc == 0 and len(lines) == 1
    p = EmotionPredictor(model_dir)
    samples, sr = sf.read(str(f), dtype="float32")
    # 0.9 s at 10 ms -> 88-90 MFCC frames -> 30 output frames at subsampling 3
    assert p.bottleneck(samples, sr).shape == (30, 16)


def test_not_a_model_dir(tmp_path):
    from asr2emo.utils.errors import UserError

    with pytest.raises(UserError, match="config.json"):
        EmotionPredictor(tmp_path)
