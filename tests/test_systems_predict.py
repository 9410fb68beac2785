"""asr2emo predict with an exported emotion-systems deploy dir: tiny random acoustic model,
members of every kind trained on random inputs, the ensemble's posteriors on a recording
recomputed by hand from the same front end."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from asr2emo.bench.synthetic import make_random_model_dir
from asr2emo.bin import predict
from asr2emo.emotion.data import FrameData
from asr2emo.emotion.predict import EmotionPredictor
from asr2emo.emotion.train import HeadConfig
from asr2emo.systems.export import base_systems, write_systems_model
from asr2emo.systems.fusion import Scores, fuse
from asr2emo.systems.heads import UtteranceHeadConfig
from asr2emo.systems.members import SystemInputs, member_posteriors
from asr2emo.systems.pooling import utterance_stats
from asr2emo.systems.run import SystemsConfig, fit_members
from conftest import write_tone

CLASSES = ["ang", "exc", "neu", "sad"]
LAYERS = ["tdnnf2", "tdnnf3"]  # mixed; the paper layer is tdnnf3
ENSEMBLE = ["frame+egemaps", "frame_mix", "asp", "layer_mix+egemaps", "early", "early_layer"]
WEIGHTS = {"frame+egemaps": 0.7, "layer_mix+egemaps": 0.4}
CFG = SystemsConfig(
    head=UtteranceHeadConfig(max_epochs=2, patience=2, batch_size=8),
    frame=HeadConfig(max_epochs=2, batch_size=64, hidden_dims=[8]),
)


def _inputs(rng, num_utts: int, dim: int) -> SystemInputs:
    """Random inputs of the systems' shapes: 6 frames per utterance, 2 layers, 88 eGeMAPS."""
    n = 6 * num_utts
    offsets = np.arange(0, n + 1, 6)
    labels = np.arange(num_utts) % len(CLASSES)
    frames = torch.from_numpy(rng.standard_normal((n, len(LAYERS), dim)).astype(np.float32))
    frames += torch.from_numpy(np.repeat(labels, 6)).float()[:, None, None]  # learnable
    data = FrameData(frames[:, 1].contiguous(), offsets, [f"u{i}" for i in range(num_utts)],
                     [f"s{i % 4}" for i in range(num_utts)], np.arange(num_utts) % 2, labels,
                     CLASSES)  # fmt: skip
    stats = np.stack([[utterance_stats(frames[a:b, j].numpy()) for j in range(len(LAYERS))]
                      for a, b in zip(offsets[:-1], offsets[1:])])  # fmt: skip
    egemaps = rng.standard_normal((num_utts, 88)) + labels[:, None]
    mix = FrameData(frames, offsets, data.ids, data.speakers, data.sessions, labels, CLASSES)
    return SystemInputs(data, torch.from_numpy(stats), egemaps, 1, mix)


@pytest.fixture(scope="module")
def systems_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("systems_predict")
    tiny = dict(ivector_dim=4, num_layers=4, hidden_dim=16, bottleneck_dim=8, prefinal_dim=8,
                time_strides=[1, 1, 3])  # fmt: skip
    stage8 = make_random_model_dir(tmp / "stage8", CLASSES, "tdnnf3", tiny, 4, 12)
    inp = _inputs(np.random.default_rng(0), 32, 16)
    train, val = np.arange(24), np.arange(24, 32)
    cws = dict.fromkeys(base_systems(ENSEMBLE), "none")
    members = {n: m for n, (m, _) in fit_members(inp, train, val, CFG, 1, 0, cws).items()}
    settings = {"classes": CLASSES, "paper_layer": "tdnnf3", "layers": LAYERS, "paper_index": 1,
                "frame_dtype": "float32"}  # fmt: skip
    out = tmp / "deploy" / "model"
    write_systems_model(out, members, ENSEMBLE, WEIGHTS, settings, stage8)
    return out, stage8, members


def test_predict_runs_the_exported_ensemble(systems_dir, tmp_path, capsys):
    out, stage8, members = systems_dir
    wav = write_tone(tmp_path / "a.wav", 1.2, sr=22050)
    rc = predict.main(predict.get_parser().parse_args([str(out), str(wav)]))
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rc == 0 and len(lines) == 1 and lines[0]["label"] in CLASSES
    got = np.array([lines[0]["posteriors"][c] for c in CLASSES])
    assert abs(got.sum() - 1) < 1e-5
    # by hand: stage 8's front end, each layer extracted on its own, eGeMAPS, then the members
    from asr2emo.baselines.features import egemaps_extractor, egemaps_functionals
    from asr2emo.features.mfcc import compute_mfcc

    p = EmotionPredictor(stage8)
    samples, sr = sf.read(str(wav), dtype="float32")
    mfcc = compute_mfcc(samples, sr)
    x = torch.from_numpy(mfcc.astype(np.float32))[None]
    iv = torch.from_numpy(p.ivector.extract_online(mfcc).astype(np.float32))[None]
    with torch.no_grad():
        layer = {n: p.acoustic.extract(x, iv, n, chunk_size=500)[0] for n in LAYERS}
    t = len(layer["tdnnf3"])
    one = dict(offsets=np.array([0, t]), ids=["a"], speakers=["a"], sessions=np.zeros(1, int),
               labels=np.zeros(1, int), classes=CLASSES)  # fmt: skip
    inp = SystemInputs(
        FrameData(layer["tdnnf3"], **one),
        torch.from_numpy(np.stack([utterance_stats(layer[n].numpy()) for n in LAYERS])[None]),
        egemaps_functionals(egemaps_extractor(), samples, sr)[None],
        1,
        FrameData(torch.stack([layer[n] for n in LAYERS], dim=1), **one),
    )
    base = {n: Scores(["a"], member_posteriors(m, inp, np.array([0]))) for n, m in members.items()}
    each = [base["frame_mix"], base["asp"], base["early"], base["early_layer"],
            fuse(base["frame"], base["egemaps"], 0.7),
            fuse(base["layer_mix"], base["egemaps"], 0.4)]  # fmt: skip
    want = np.mean([s.posteriors[0] for s in each], axis=0)
    np.testing.assert_allclose(got, want, atol=2e-6)


def test_the_export_needs_stage8s_model_dir(systems_dir, tmp_path):
    from asr2emo.utils.errors import UserError

    _, _, members = systems_dir
    with pytest.raises(UserError, match="not stage 8's model dir"):
        write_systems_model(tmp_path / "m", members, ["asp"], {}, {}, tmp_path / "nothing")
