"""recipes/emotion_folder.sh end to end on a tiny generated folder corpus, with a random (untrained)
acoustic model and i-vector extractor standing in for run.sh's stages 3-4; then predict on the
model dir it writes must reproduce the stage-7 bottleneck of a corpus file."""

import json
import os
import subprocess

import numpy as np
import torch
from lhotse import CutSet

from asr2emo.bench.synthetic import make_random_model_dir
from asr2emo.data.long_audio import read_mono
from asr2emo.emotion.predict import EmotionPredictor
from conftest import REPO, write_tone

TINY = dict(ivector_dim=8, num_layers=13, hidden_dim=32, bottleneck_dim=16, prefinal_dim=16)


def test_folder_recipe_end_to_end(tmp_path):
    corpus = tmp_path / "MyCorpus"
    for i, spk in enumerate(["s01", "s02", "s03", "s04"]):
        for j, label in enumerate(["Angry", "Calm"]):
            for k in range(3):
                write_tone(
                    corpus / label / f"{spk}_{label[0]}{k}.wav",
                    0.6,
                    sr=22050,
                    seed=100 * i + 10 * j + k,
                )
    asr = tmp_path / "asr"
    make_random_model_dir(asr, ["angry", "calm"], "tdnnf12", TINY, num_gauss=8, pca_dim=16)
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "mfcc_hires.conf").write_text((REPO / "conf" / "mfcc_hires.conf").read_text())
    (conf / "bottleneck.conf").write_text("--layers=tdnnf12\n--chunk-size=0\n")
    (conf / "emotion.conf").write_text("--max-epochs=2\n--seed=1\n--model-layer=tdnnf12\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run(
        [
            "recipes/emotion_folder.sh",
            "--corpus-dir",
            str(corpus),
            "--speaker-regex",
            r"^(s\d+)_",
            "--num-folds",
            "0",
            "--asr-exp-dir",
            str(asr),
            "--conf-dir",
            str(conf),
            "--data-dir",
            str(tmp_path / "data"),
            "--exp-dir",
            str(tmp_path / "exp"),
            "--nj",
            "1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    exp = tmp_path / "exp"
    m = json.loads((exp / "report" / "metrics.json").read_text())
    assert m["corpus"] == "mycorpus" and m["classes"] == ["angry", "calm"]
    assert [f["test_session"] for f in m["folds"]] == [1, 2, 3, 4]  # one fold per speaker
    assert sum(f["n"] for f in m["folds"]) == 24
    assert (exp / "report" / "report.md").is_file()
    model = exp / "emotion" / "model"
    assert json.loads((model / "config.json").read_text())["classes"] == ["angry", "calm"]

    # predict recomputes the stage-7 bottleneck of a corpus file from the copied models
    predictor = EmotionPredictor(model)
    cut = next(iter(CutSet.from_file(exp / "bottleneck" / "tdnnf12" / "cuts.jsonl.gz")))
    stored = cut.load_custom("bottleneck")
    samples, sr = read_mono(cut.recording.sources[0].source)
    got = predictor.bottleneck(samples, sr).numpy()
    assert got.shape == stored.shape
    assert np.abs(got - stored).max() < 0.05 * np.abs(stored).max()
    a = predictor.predict_frames(torch.from_numpy(stored))["posteriors"]
    b = predictor.predict_frames(torch.from_numpy(got))["posteriors"]
    # features and bottlenecks are stored lilcom-compressed (lossy, ~1/256 relative steps)
    assert max(abs(a[c] - b[c]) for c in a) < 0.05
