"""asr2emo export --format onnx: onnxruntime posteriors equal the TorchScript and eager ones
(1e-4), predict runs from the export without importing torch or k2, bad exports are one line."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from asr2emo.bench.synthetic import make_random_model_dir
from asr2emo.bin import export, predict
from asr2emo.deploy.bundle import sum_softmax
from asr2emo.deploy.predictor import OnnxPredictor
from asr2emo.emotion.head import load_head
from asr2emo.model import load_model
from asr2emo.utils.errors import UserError
from conftest import REPO, write_tone
from test_export_torchscript import CLASSES, TINY, _perturb


@pytest.fixture(scope="module", params=[("tdnnf5", 13), ("tdnnf3", 17), ("prefinal", 15)])
def exported(request, tmp_path_factory):
    """(model dir, TorchScript export, ONNX export): a layer after subsampling, one before, and
    prefinal, at the lowest, highest and a middle opset."""
    layer, opset = request.param
    root = tmp_path_factory.mktemp(f"onnx_{layer}")
    model_dir = make_random_model_dir(root, CLASSES, layer, TINY, num_gauss=4, pca_dim=12, seed=5)
    _perturb(model_dir, seed=len(layer) + 1)
    ts, ox = root / "ts", root / "onnx"
    assert export.main(export.get_parser().parse_args([str(model_dir), str(ts)])) == 0
    args = [str(model_dir), str(ox), "--format", "onnx", "--opset", str(opset)]
    assert export.main(export.get_parser().parse_args(args)) == 0
    return model_dir, ts, ox


def test_onnx_equals_torchscript_and_eager(exported):
    model_dir, ts, ox = exported
    conf = json.loads((ox / "config.json").read_text())
    layer = json.loads((model_dir / "config.json").read_text())["layer"]
    assert conf["format"] == "onnx" and conf["classes"] == CLASSES and conf["layer"] == layer
    assert conf["aggregation"] == "sum_softmax"
    acoustic = load_model(model_dir / "acoustic")
    head, _ = load_head(model_dir / "head.pt")
    scripted = torch.jit.load(str(ts / "model.pt"))
    deploy = OnnxPredictor(ox)
    g = torch.Generator().manual_seed(11)
    worst, spread = 0.0, []
    for num_frames in (1, 4, 29, 150, 333, 1000):
        feats = torch.randn(num_frames, 40, generator=g) * 4 + 2
        ivecs = torch.randn((num_frames + 9) // 10, 6, generator=g)
        with torch.no_grad():
            ref_frames = head(acoustic.extract(feats[None], ivecs[None], layer)[0]).exp()
            ts_post = scripted(feats, ivecs)[0].numpy()
        ref_post = (ref_frames.sum(0) / ref_frames.sum()).numpy()
        frames = deploy.frame_posteriors(feats.numpy(), ivecs.numpy())
        post = sum_softmax(frames)
        assert frames.shape == (-(-num_frames // 3), len(CLASSES))
        assert np.abs(frames - ref_frames.numpy()).max() < 1e-4
        worst = max(worst, np.abs(post - ref_post).max(), np.abs(post - ts_post).max())
        spread.append(float(post.max() - post.min()))
    assert worst < 1e-4, worst
    assert max(spread) > 0.05  # posteriors are far from uniform: the comparison is not vacuous


def test_deploy_predict_matches_torch_predict(exported, tmp_path, capsys):
    model_dir, ts, ox = exported
    wavs = [write_tone(tmp_path / f"t{i}.wav", 0.5 + 0.8 * i, seed=i) for i in range(2)]
    t = np.arange(int(1.7 * 22050)) / 22050
    y = 0.3 * np.sin(2 * np.pi * 180 * t) + 0.02 * np.random.default_rng(3).standard_normal(t.size)
    sf.write(str(tmp_path / "s22k.flac"), np.stack([y, 0.5 * y[::-1]], axis=1), 22050)
    files = [str(w) for w in wavs] + [str(tmp_path / "s22k.flac")]
    results = {}
    for src in (model_dir, ts, ox, ox / "model.onnx"):
        assert predict.main(predict.get_parser().parse_args([str(src)] + files)) == 0
        results[src] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    for src in (ts, ox, ox / "model.onnx"):
        for a, b in zip(results[model_dir], results[src]):
            assert a["path"] == b["path"] and a["label"] == b["label"]
            for c in CLASSES:
                assert abs(a["posteriors"][c] - b["posteriors"][c]) < 1e-4


def test_deploy_path_imports_neither_torch_nor_k2(exported, tmp_path):
    _, _, ox = exported
    wav = write_tone(tmp_path / "a.wav", 0.8)
    code = (
        "import sys\n"
        "from asr2emo.cli import main\n"
        f"rc = main(['predict', {str(ox)!r}, {str(wav)!r}])\n"
        f"rc = rc or main(['predict', '--timeline', {str(ox)!r}, {str(wav)!r}])\n"
        "heavy = {'torch', 'k2', '_k2', 'lhotse'}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & heavy)\n"
        "print('LOADED', loaded)\n"
        "assert 'torch' not in sys.modules and 'k2' not in sys.modules, loaded\n"
        "sys.exit(rc)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "LOADED []" in r.stdout
    assert json.loads(r.stdout.splitlines()[0])["label"] in CLASSES


def test_bad_exports_are_one_line(exported, tmp_path):
    model_dir, _, ox = exported
    with pytest.raises(UserError, match="--opset"):
        args = [str(model_dir), str(tmp_path / "x"), "--format", "onnx", "--opset", "12"]
        export.main(export.get_parser().parse_args(args))
    assert not (tmp_path / "x").exists()
    broken = tmp_path / "broken"
    shutil.copytree(ox, broken)
    (broken / "cmvn.npz").unlink()
    with pytest.raises(UserError, match="lacks cmvn.npz"):
        OnnxPredictor(broken)
    (broken / "cmvn.npz").write_bytes((ox / "cmvn.npz").read_bytes())
    (broken / "model.onnx").write_text("not a model\n")
    with pytest.raises(UserError, match="not a loadable ONNX model"):
        OnnxPredictor(broken)
    with pytest.raises(UserError, match="CPU only"):
        predict.main(predict.get_parser().parse_args([str(ox), "x.wav", "--device", "cuda"]))
