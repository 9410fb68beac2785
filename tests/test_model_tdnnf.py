"""TDNN-F topology: named layers, frame rate, size against Kaldi's tdnn_1g, context handling,
semi-orthogonal constraint, dropout schedule, load_model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asr2emo.model import load_model
from asr2emo.model.layers import (
    TdnnfLayer,
    constrain_orthonormal_,
    parse_schedule,
    schedule_value,
    semi_orthogonality_error,
)
from asr2emo.model.tdnnf import TdnnfConfig, TdnnfModel, config_to_dict, read_model_config
from asr2emo.utils.errors import UserError
from conftest import REPO

PAPER = REPO / "conf" / "tdnnf.conf"
MINI = REPO / "conf" / "mini" / "tdnnf.conf"
# Kaldi tedlium/s5_r2 run_tdnn_1g.sh, header of the script: "Num-params ... 9431072".
KALDI_TDNN_1G_PARAMS = 9431072


def tiny_config(**kw) -> TdnnfConfig:
    base = dict(
        num_layers=7,
        hidden_dim=32,
        bottleneck_dim=8,
        prefinal_dim=16,
        time_strides=[1, 1, 0, 3, 3, 3],
        ivector_dim=6,
        feat_dim=5,
        dropout_schedule="0",
    )
    base.update(kw)
    return TdnnfConfig(**base)


def random_inputs(config: TdnnfConfig, lens, seed=0):
    g = torch.Generator().manual_seed(seed)
    T = max(lens)
    feats = torch.randn(len(lens), T, config.feat_dim, generator=g)
    iv = torch.randn(
        len(lens),
        (T + config.ivector_period - 1) // config.ivector_period,
        config.ivector_dim,
        generator=g,
    )
    return feats, iv, torch.tensor(lens)


def trained_like(model: TdnnfModel) -> TdnnfModel:
    """Give batchnorm non-trivial running statistics, then switch to eval mode."""
    model.train()
    feats, iv, lens = random_inputs(model.config, [80, 60], seed=5)
    with torch.no_grad():
        for _ in range(3):
            model(feats, iv, lens)
    return model.eval()


def test_conf_files_give_the_paper_topology():
    paper = read_model_config(PAPER)
    assert paper == TdnnfConfig()
    assert paper.time_strides == [1, 1, 1, 0, 3, 3, 3, 3, 3, 3, 3, 3]
    assert (paper.left_context, paper.right_context) == (28, 28)
    mini = read_model_config(MINI)
    assert mini.num_layers == 13 and mini.time_strides == paper.time_strides
    names = TdnnfModel(mini, 10).layer_names
    assert names == ["tdnn1"] + [f"tdnnf{i}" for i in range(2, 14)] + ["prefinal", "output"]


def test_parameter_count_matches_kaldi_tdnn_1g():
    """tdnn_1g has 3600 pdfs; Kaldi counts no LDA (fixed) and adds an xent branch."""
    pdfs = 3600
    model = TdnnfModel(read_model_config(PAPER), pdfs)
    n = model.num_params()
    print(f"TDNN-F paper config, {pdfs} outputs: {n:,} parameters")
    assert 8_000_000 <= n <= 11_000_000
    lda = sum(p.numel() for p in model.lda.parameters())
    xent_branch = (256 * 1024 + 1024 + 1024 * 256) + (256 * pdfs + pdfs)
    assert n - lda + xent_branch == KALDI_TDNN_1G_PARAMS
    phones = TdnnfModel(read_model_config(PAPER), 42).num_params()
    print(f"TDNN-F paper config, 42 outputs (phones + blank): {phones:,} parameters")
    assert 7_000_000 <= phones < 8_000_000


@pytest.mark.parametrize("conf", [PAPER, MINI])
def test_every_named_layer_at_one_third_frame_rate(conf):
    config = read_model_config(conf)
    model = trained_like(TdnnfModel(config, 11))
    lens = [100, 61]
    feats, iv, lens_t = random_inputs(config, lens)
    dims = {"prefinal": config.prefinal_dim, "output": 11}
    for name in model.layer_names:
        out = model.extract(feats, iv, name, lens_t)
        assert out.shape == (2, 34, dims.get(name, config.hidden_dim)), name
    log_probs, out_lens = model(feats, iv, lens_t)
    assert out_lens.tolist() == [34, 21]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 34), atol=1e-5)


def reference_full_rate(model: TdnnfModel, x: torch.Tensor, upto: str) -> torch.Tensor:
    """Every layer at 10 ms with its stride as a dilation, subsampled only at the end."""
    c = model.config
    y = model.lda(x)
    margin = sum(c.time_strides)
    for i, (name, layer) in enumerate(model.layers.items()):
        if isinstance(layer, TdnnfLayer):
            stride = c.time_strides[i - 1]
            lin = layer.linear
            h = F.conv1d(y, lin.weight, None, dilation=max(stride, 1))
            h = F.conv1d(h, layer.affine.weight, layer.affine.bias, dilation=max(stride, 1))
            h = layer.batchnorm(F.relu(h))
            y = h + layer.bypass_scale * (y[:, :, stride : y.shape[2] - stride] if stride else y)
            margin -= stride
        else:
            y = layer(y)
        if name == upto:
            return y[:, :, margin : y.shape[2] - margin : c.frame_subsampling_factor]
    raise AssertionError(upto)


@pytest.mark.parametrize("layer", ["tdnn1", "tdnnf3", "tdnnf4", "tdnnf5", "tdnnf7", "prefinal"])
def test_low_rate_layers_equal_full_rate_computation(layer):
    """Subsampling before the stride-3 layers (Kaldi's trick) changes no output value."""
    model = trained_like(TdnnfModel(tiny_config(), 7))
    feats, iv, lens = random_inputs(model.config, [50])
    x = model.gather_input(feats, iv, lens)
    fast = model.run_layers(x, upto=layer)
    slow = reference_full_rate(model, x, layer)
    assert fast.shape == slow.shape
    assert torch.allclose(fast, slow, atol=1e-5)


def test_chunked_batched_and_whole_extraction_agree():
    model = trained_like(TdnnfModel(tiny_config(), 7))
    feats, iv, lens = random_inputs(model.config, [97, 40])
    layers = model.layer_names
    whole = model.extract_multi(feats, iv, layers, lens)
    for chunk in (1, 4, 7):
        chunked = model.extract_multi(feats, iv, layers, lens, chunk_size=chunk)
        for name in layers:
            assert torch.allclose(whole[name], chunked[name], atol=1e-5), (name, chunk)
    single = model.extract_multi(feats[1:, :40], iv[1:, :4], layers)
    for name in layers:
        assert torch.allclose(whole[name][1:, :14], single[name], atol=1e-5), name


def test_edge_frames_are_replicated_like_kaldi():
    """Frames before the start / after the end are copies of the first / last frame."""
    model = TdnnfModel(tiny_config(), 7)
    feats, iv, lens = random_inputs(model.config, [10])
    x = model.gather_input(feats, iv, lens)
    L = model.left_context
    first = (feats[0, 0] - model.cmvn_mean) / model.cmvn_std
    # The first column of the offset -1 block is frame -L - 1 + 1, clamped to frame 0.
    assert torch.allclose(x[0, : model.config.feat_dim, 0], first)
    assert x.shape[2] == (4 - 1) * 3 + 1 + 2 * L - 2  # 4 outputs; splice consumed 2


def reference_constrain(M: np.ndarray) -> np.ndarray:
    """Kaldi ConstrainOrthonormalInternal (floating scale), written from nnet-utils.cc."""
    P = M @ M.T
    trace_p, trace_pp = np.trace(P), np.trace(P @ P.T)
    scale = np.sqrt(trace_pp / trace_p)
    ratio = trace_pp * P.shape[0] / trace_p**2
    speed = 0.125
    if ratio > 1.02:
        speed *= 0.5
        if ratio > 1.1:
            speed *= 0.5
    P = P - scale**2 * np.eye(P.shape[0])
    return M - 4 * (speed / scale**2) * P @ M


def test_semi_orthogonal_update_matches_kaldi_and_converges():
    rng = np.random.default_rng(0)
    w = torch.tensor(rng.standard_normal((16, 24, 2)) * 0.3, dtype=torch.float32)
    expected = reference_constrain(w.numpy().reshape(16, -1).astype(np.float64))
    constrain_orthonormal_(w)
    assert np.allclose(w.numpy().reshape(16, -1), expected, atol=1e-5)
    errors = [semi_orthogonality_error(w)]
    for _ in range(30):
        constrain_orthonormal_(w)
        errors.append(semi_orthogonality_error(w))
    assert errors[-1] < 1e-3 < errors[0]
    M = w.reshape(16, -1).double()
    P = M @ M.T
    s = torch.trace(P) / 16
    assert torch.allclose(P, s * torch.eye(16, dtype=torch.float64), atol=1e-3 * float(s))


def test_model_constraint_touches_every_factorized_layer():
    model = TdnnfModel(tiny_config(), 7)
    before = [
        semi_orthogonality_error(m.linear.weight)
        for m in model.modules()
        if isinstance(m, TdnnfLayer)
    ]
    for _ in range(10):
        model.constrain_orthonormal()
    after = [
        semi_orthogonality_error(m.linear.weight)
        for m in model.modules()
        if isinstance(m, TdnnfLayer)
    ]
    assert all(a < 0.1 * b for a, b in zip(after, before))


def test_dropout_schedule_like_kaldi():
    pts = parse_schedule("0,0@0.20,0.5@0.50,0")
    assert pts == [(0.0, 0.0), (0.2, 0.0), (0.5, 0.5), (1.0, 0.0)]
    values = [schedule_value(pts, p) for p in (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)]
    assert np.allclose(values, [0, 0, 0, 0.25, 0.5, 0.25, 0])
    model = TdnnfModel(tiny_config(dropout_schedule="0,0@0.20,0.5@0.50,0"), 7)
    assert model.set_dropout(0.5) == pytest.approx(0.5)
    model.train()
    feats, iv, lens = random_inputs(model.config, [30])
    a = model.extract(feats, iv, "tdnnf7", lens)
    torch.manual_seed(1)
    model.train()
    b, _ = model(feats, iv, lens, layer="tdnnf7")
    model.eval()
    c, _ = model(feats, iv, lens, layer="tdnnf7")
    assert not torch.allclose(b, c)  # dropout active in training mode only
    assert a.shape == c.shape


def test_bad_configs_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="time-strides"):
        TdnnfConfig(num_layers=13, time_strides=[1, 1])
    bad = tmp_path / "bad.conf"
    bad.write_text("--hidden-dim=64\n--widht=3\n")
    with pytest.raises(SystemExit):
        read_model_config(bad)


def test_load_model_round_trip_and_unknown_layer(tmp_path):
    model = trained_like(TdnnfModel(tiny_config(), 7))
    model.set_cmvn(torch.arange(5.0), torch.full((5,), 2.0))
    torch.save(
        {
            "model": model.state_dict(),
            "model_config": config_to_dict(model.config),
            "num_outputs": 7,
            "ivector": {"dim": 6},
        },
        tmp_path / "final.pt",
    )
    loaded = load_model(tmp_path, "cpu")
    assert not loaded.training and loaded.info["ivector"]["dim"] == 6
    feats, iv, lens = random_inputs(model.config, [33])
    assert torch.equal(model(feats, iv, lens)[0], loaded(feats, iv, lens)[0])
    with pytest.raises(UserError, match="valid layers: tdnn1, tdnnf2, .*prefinal, output"):
        loaded.extract(feats, iv, "layer12")
    with pytest.raises(UserError, match="does not exist"):
        load_model(tmp_path / "nope", "cpu")
