"""One network implementation: the model's layer pass is the scripted one the exports run."""

import torch

from asr2emo.emotion.head import EmotionHead
from asr2emo.emotion.torchscript import ScriptableEmotionModel
from asr2emo.model.network import LayerCut
from asr2emo.model.tdnnf import TdnnfConfig, TdnnfModel


def tiny_model() -> TdnnfModel:
    config = TdnnfConfig(
        num_layers=7, hidden_dim=16, bottleneck_dim=4, prefinal_dim=8,
        time_strides=[1, 1, 0, 3, 3, 3], ivector_dim=3, feat_dim=5, dropout_schedule="0",
    )  # fmt: skip
    torch.manual_seed(0)
    return TdnnfModel(config, 7).eval()


def test_scripted_cut_equals_the_model_pass() -> None:
    model = tiny_model()
    g = torch.Generator().manual_seed(1)
    feats, ivecs = torch.randn(2, 40, 5, generator=g), torch.randn(2, 4, 3, generator=g)
    lens = torch.tensor([40, 29])
    x = model.gather_input(feats, ivecs, lens)
    layers = ["tdnn1", "tdnnf4", "tdnnf6", "prefinal", "output"]
    eager = model.run_layers_multi(x, layers)
    scripted = torch.jit.script(LayerCut(model, layers))(x, None)
    assert list(scripted) == layers
    for name in layers:
        assert eager[name].shape[2] == 14  # ceil(40 / 3) output frames, every layer
        torch.testing.assert_close(scripted[name], eager[name], rtol=0, atol=0)


def test_the_export_runs_the_models_own_modules() -> None:
    model = tiny_model()
    head = EmotionHead(model.layer_dim("tdnnf6"), 3, [4]).eval()
    export = ScriptableEmotionModel(model, "tdnnf6", head)
    names = list(model.layers)[: names_upto(model, "tdnnf6")]
    assert [m for m in export.network.layers] == [model.layers[n] for n in names]
    feats, ivecs = torch.randn(40, 5), torch.randn(4, 3)
    ours = export.bottleneck(feats, ivecs)
    ref = model.extract(feats[None], ivecs[None], "tdnnf6")[0]
    torch.testing.assert_close(ours, ref)


def names_upto(model: TdnnfModel, layer: str) -> int:
    return list(model.layers).index(layer) + 1
