"""asr2emo export: the TorchScript module equals the eager pipeline (1e-5), predict runs from it."""

import json

import pytest
import torch

from asr2emo.bench.synthetic import make_random_model_dir
from asr2emo.bin import export, predict
from asr2emo.emotion.aggregate import aggregate
from asr2emo.emotion.head import load_head
from asr2emo.model import load_model
from asr2emo.utils.errors import UserError
from conftest import write_tone

CLASSES = ["ang", "exc", "neu", "sad"]
TINY = dict(
    ivector_dim=6,
    num_layers=6,
    hidden_dim=24,
    bottleneck_dim=8,
    prefinal_dim=12,
    time_strides=[1, 1, 0, 3, 3],
)


def _perturb(model_dir, seed):
    """Random CMVN, batchnorm statistics and head standardization: nothing left at identity."""
    g = torch.Generator().manual_seed(seed)
    path = model_dir / "acoustic" / "final.pt"
    ckpt = torch.load(path)
    for k, v in ckpt["model"].items():
        if k.endswith(("running_mean", "cmvn_mean")):
            ckpt["model"][k] = torch.randn(v.shape, generator=g)
        elif k.endswith(("running_var", "cmvn_std")):
            ckpt["model"][k] = torch.rand(v.shape, generator=g) + 0.5
    torch.save(ckpt, path)
    head = torch.load(model_dir / "head.pt")
    sd = head["state_dict"]
    sd["standardizer.mean"] = torch.randn(sd["standardizer.mean"].shape, generator=g)
    sd["standardizer.std"] = torch.rand(sd["standardizer.std"].shape, generator=g) + 0.5
    for k in sd:
        if k.startswith("net.") and k.endswith("weight"):
            sd[k] = torch.randn(sd[k].shape, generator=g)
    torch.save(head, model_dir / "head.pt")


@pytest.fixture(scope="module", params=["tdnnf5", "tdnnf3", "prefinal"])
def exported(request, tmp_path_factory):
    """(model dir, export dir) for a layer after subsampling, one before, and prefinal."""
    root = tmp_path_factory.mktemp(f"export_{request.param}")
    model_dir = make_random_model_dir(
        root, CLASSES, request.param, TINY, num_gauss=4, pca_dim=12, seed=3
    )
    _perturb(model_dir, seed=len(request.param))
    out = root / "ts"
    assert export.main(export.get_parser().parse_args([str(model_dir), str(out)])) == 0
    return model_dir, out


def test_exported_equals_eager(exported):
    model_dir, out = exported
    conf = json.loads((out / "config.json").read_text())
    acoustic = load_model(model_dir / "acoustic")
    head, classes = load_head(model_dir / "head.pt")
    layer = json.loads((model_dir / "config.json").read_text())["layer"]
    assert conf["format"] == "torchscript" and conf["classes"] == classes and conf["layer"] == layer
    module = torch.jit.load(str(out / "model.pt"))
    g = torch.Generator().manual_seed(7)
    spread = []
    for num_frames in (1, 4, 29, 150, 333):
        feats = torch.randn(num_frames, 40, generator=g) * 4 + 2
        ivecs = torch.randn((num_frames + 9) // 10, 6, generator=g)
        post, frame_lp = module(feats, ivecs)
        with torch.no_grad():
            bn = acoustic.extract(feats[None], ivecs[None], layer)[0]
            ref_lp = head(bn)
        ref = aggregate(ref_lp, torch.zeros(len(ref_lp), dtype=torch.long), 1)["posteriors"][0]
        assert frame_lp.shape == ref_lp.shape == (-(-num_frames // 3), len(CLASSES))
        assert torch.allclose(frame_lp, ref_lp, atol=1e-5, rtol=0)
        assert torch.allclose(post, ref, atol=1e-5, rtol=0)
        spread.append(float(post.max() - post.min()))
    assert max(spread) > 0.05  # posteriors are far from uniform: the comparison is not vacuous


def test_predict_from_export_matches_model_dir(exported, tmp_path, capsys):
    model_dir, out = exported
    wavs = [write_tone(tmp_path / f"t{i}.wav", 0.4 + 0.7 * i, seed=i) for i in range(2)]
    results = {}
    for src in (model_dir, out, out / "model.pt"):
        rc = predict.main(predict.get_parser().parse_args([str(src)] + [str(w) for w in wavs]))
        assert rc == 0
        results[src] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    for src in (out, out / "model.pt"):
        for a, b in zip(results[model_dir], results[src]):
            assert a["label"] == b["label"]
            for c in CLASSES:
                assert abs(a["posteriors"][c] - b["posteriors"][c]) < 1e-5


def test_export_refuses_existing_output_and_bad_input(exported, tmp_path):
    model_dir, out = exported
    with pytest.raises(UserError, match="exists already"):
        export.main(export.get_parser().parse_args([str(model_dir), str(out)]))
    with pytest.raises(UserError, match="not an emotion model dir"):
        export.main(export.get_parser().parse_args([str(tmp_path), str(tmp_path / "x")]))
