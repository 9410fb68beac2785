"""Kaldi tdnn_1g's xent regularizer and per-layer l2: numerator-posterior targets against path
enumeration, the loss terms, the branch kept out of the named layers, checkpoints, the lr-factor
group, the l2 penalty against a hand computation."""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from typing import Dict, Tuple

import k2
import pytest
import torch

from asr2emo.lang import prepare_lang_from_lexicon
from asr2emo.lang.prepare import ChainOptions
from asr2emo.lfmmi.graph_compiler import MmiGraphCompiler
from asr2emo.lfmmi.loss import LfMmiLoss
from asr2emo.lfmmi.xent import numerator_posteriors
from asr2emo.model import load_model
from asr2emo.model.l2 import LayerL2Config, l2_penalty
from asr2emo.model.tdnnf import TdnnfConfig, TdnnfModel, read_model_config
from asr2emo.model.trainer import (
    compute_loss,
    param_groups,
    set_learning_rate,
    training_record,
    xent_weight,
)
from asr2emo.utils.errors import UserError
from conftest import REPO

LEXICON = {"ab": [["A", "B"]], "b": [["B"]]}
TEXTS = ["ab b", "b ab", "ab", "ab ab b"]
BIG_BEAM = 1000.0  # no pruning: the brute force sums every path


@pytest.fixture(scope="module", params=["chain", "ctc"])
def compiler(request, tmp_path_factory) -> MmiGraphCompiler:
    lang = prepare_lang_from_lexicon(
        LEXICON, TEXTS, tmp_path_factory.mktemp("lang") / "lang", phone_lm_order=2,
        topology=request.param, chain=ChainOptions(min_biphone_count=2, min_monophone_count=1),
    )  # fmt: skip
    return MmiGraphCompiler(lang, "cpu")


def tiny_config() -> TdnnfConfig:
    return TdnnfConfig(
        num_layers=7, hidden_dim=32, bottleneck_dim=8, prefinal_dim=16,
        time_strides=[1, 1, 0, 3, 3, 3], ivector_dim=6, feat_dim=5, dropout_schedule="0",
    )  # fmt: skip


def enumerate_posteriors(
    fsa: k2.Fsa, y: torch.Tensor
) -> Tuple[float, Dict[Tuple[int, int], float]]:
    """log Z and ``{(t, label): posterior}`` by listing every path of ``fsa`` (one FSA) that
    consumes the ``T = len(y)`` frames and then takes a final (-1) arc; a path's log-weight is
    the sum of its arc scores and of ``y[t, label_t]``."""
    arcs = fsa.arcs.values()[:, :3].tolist()
    scores = fsa.scores.detach().double().tolist()
    out = defaultdict(list)
    for i, (src, dst, label) in enumerate(arcs):
        out[src].append((dst, label, scores[i]))
    T = y.shape[0]
    paths = []  # (log-weight, labels)

    def walk(state: int, t: int, weight: float, labels: Tuple[int, ...]) -> None:
        for dst, label, score in out[state]:
            if label == -1 and t == T:
                paths.append((weight + score, labels))
            elif label != -1 and t < T:
                walk(dst, t + 1, weight + score + float(y[t, label]), labels + (label,))

    walk(0, 0, 0.0, ())
    assert paths, "no path through the graph"
    log_z = float(torch.logsumexp(torch.tensor([w for w, _ in paths], dtype=torch.float64), 0))
    post: Dict[Tuple[int, int], float] = defaultdict(float)
    for w, labels in paths:
        for t, label in enumerate(labels):
            post[(t, label)] += math.exp(w - log_z)
    return log_z, post


def as_dense(post: Dict[Tuple[int, int], float], T: int, C: int) -> torch.Tensor:
    dense = torch.zeros(T, C, dtype=torch.float64)
    for (t, c), p in post.items():
        dense[t, c] += p
    return dense


def test_targets_equal_path_enumeration_on_a_hand_made_graph():
    """A 5-state graph with self-loops, skips and two final arcs; 4 output units."""
    text = "\n".join(
        ["0 1 1 0.5", "0 2 2 -0.3", "1 1 1 0.1", "1 2 3 -1.0", "1 4 -1 0.3", "2 2 2 0.2",
         "2 3 0 0.0", "2 4 -1 0.0", "3 3 0 -0.4", "3 4 -1 -0.2", "4"]
    )  # fmt: skip
    fsa = k2.arc_sort(k2.Fsa.from_str(text))
    graphs = k2.create_fsa_vec([fsa, fsa])
    torch.manual_seed(3)
    y = torch.randn(2, 5, 4).log_softmax(-1)
    segs = torch.tensor([[0, 0, 5], [1, 1, 3]], dtype=torch.int32)
    got = numerator_posteriors(graphs, y, segs, output_beam=BIG_BEAM).double()
    ref0 = as_dense(enumerate_posteriors(fsa, y[0])[1], 5, 4)
    ref1 = as_dense(enumerate_posteriors(fsa, y[1, 1:4])[1], 3, 4)
    assert torch.allclose(got[0], ref0, atol=1e-5)
    assert torch.allclose(got[1, 1:4], ref1, atol=1e-5)
    assert float(got[1, 0].abs().sum()) == 0 and float(got[1, 4].abs().sum()) == 0


def test_targets_equal_path_enumeration_on_compiled_numerators(compiler):
    T = 5
    torch.manual_seed(0)
    y = torch.randn(2, T, compiler.num_outputs).log_softmax(-1)
    segs = torch.tensor([[0, 0, T], [1, 0, T]], dtype=torch.int32)
    texts = ["ab", "b ab"]
    num, _ = compiler.compile(texts)
    got = numerator_posteriors(num, y, segs, output_beam=BIG_BEAM).double()
    for i in range(2):
        log_z, post = enumerate_posteriors(num[i], y[i])
        _, info = LfMmiLoss(compiler, output_beam=BIG_BEAM)(
            y[i : i + 1], segs[:1], texts[i : i + 1]
        )
        assert info["num_tot"] == pytest.approx(log_z, abs=1e-4)  # the enumeration is complete
        assert torch.allclose(got[i], as_dense(post, T, compiler.num_outputs), atol=1e-5)


def test_targets_sum_to_one_per_frame_and_failed_sequences_get_none(compiler):
    """Unfailed sequences: each supervised frame's targets sum to 1; padding frames and the
    sequence whose transcript needs more frames than it has (5 phones in 3 frames): 0."""
    torch.manual_seed(1)
    y = torch.randn(3, 12, compiler.num_outputs).log_softmax(-1)
    segs = torch.tensor([[1, 0, 12], [0, 2, 9], [2, 0, 3]], dtype=torch.int32)
    texts = ["ab ab b", "b ab", "ab ab b"]
    num, _ = compiler.compile(texts)
    post = numerator_posteriors(num, y, segs)
    sums = post.sum(-1)
    assert torch.allclose(sums[1], torch.ones(12), atol=1e-5)
    assert torch.allclose(sums[0, 2:11], torch.ones(9), atol=1e-5)
    assert float(sums[0, :2].abs().sum()) == 0 and float(sums[0, 11:].abs().sum()) == 0
    assert float(sums[2].abs().sum()) == 0
    assert float(post.min()) >= 0


def test_loss_adds_the_weighted_xent_of_constant_targets(compiler):
    """loss(xent 0.1) - loss(xent 0) = 0.1 * -sum(targets * xent_log_probs) over the unfailed
    sequences, and the xent term sends no gradient into the chain output (the targets are
    constants)."""
    torch.manual_seed(2)
    C = compiler.num_outputs
    y = torch.randn(3, 12, C).log_softmax(-1).requires_grad_(True)
    z = torch.randn(3, 12, C).log_softmax(-1).requires_grad_(True)
    segs = torch.tensor([[1, 0, 12], [0, 0, 9], [2, 0, 3]], dtype=torch.int32)
    texts = ["ab ab b", "b ab", "ab ab b"]  # the last one fails
    plain, info0 = LfMmiLoss(compiler)(y, segs, texts)
    with_xent, info = LfMmiLoss(compiler, xent_regularize=0.1)(y, segs, texts, xent_output=z)
    num, _ = compiler.compile(texts)
    targets = numerator_posteriors(num, y, segs)
    xent_ref = -float((targets * z).sum())
    assert info["num_failed"] == 1 and info["xent"] == pytest.approx(xent_ref, rel=1e-6)
    assert float(with_xent - plain) == pytest.approx(0.1 * xent_ref, rel=1e-5)
    (g_plain,) = torch.autograd.grad(plain, y)
    g_xent, g_z = torch.autograd.grad(with_xent, [y, z])
    assert torch.allclose(g_plain, g_xent, atol=1e-6)
    assert torch.allclose(g_z, -0.1 * targets, atol=1e-6)
    with pytest.raises(ValueError, match="xent_output"):
        LfMmiLoss(compiler, xent_regularize=0.1)(y, segs, texts)


def test_branch_is_not_a_named_layer_and_changes_no_output():
    torch.manual_seed(0)
    plain = TdnnfModel(tiny_config(), 9).eval()
    with_branch = TdnnfModel(tiny_config(), 9, xent_branch=True).eval()
    missing, unexpected = with_branch.load_state_dict(plain.state_dict(), strict=False)
    assert unexpected == [] and missing and all(k.startswith("xent.") for k in missing)
    assert with_branch.layer_names == plain.layer_names
    assert not any("xent" in n for n in with_branch.layer_names)
    with pytest.raises(UserError, match="unknown layer"):
        with_branch.check_layer("output-xent")
    g = torch.Generator().manual_seed(4)
    feats, iv = torch.randn(2, 70, 5, generator=g), torch.randn(2, 7, 6, generator=g)
    lens = torch.tensor([70, 50])
    a = plain.extract_multi(feats, iv, plain.layer_names, lens)
    b = with_branch.extract_multi(feats, iv, plain.layer_names, lens)
    assert all(torch.equal(a[k], b[k]) for k in a)
    log_probs, out_lens, xent_log_probs = with_branch(feats, iv, lens, xent=True)
    assert torch.equal(log_probs, plain(feats, iv, lens)[0])
    assert xent_log_probs.shape == log_probs.shape and out_lens.tolist() == [24, 17]
    assert torch.allclose(xent_log_probs.exp().sum(-1), torch.ones(2, 24), atol=1e-5)
    with pytest.raises(ValueError, match="xent_branch"):
        plain(feats, iv, lens, xent=True)


def test_paper_size_with_the_branch_is_kaldi_tdnn_1g():
    """run_tdnn_1g.sh's header: 9431072 parameters at its 3600 pdfs; Kaldi's lda is fixed."""
    model = TdnnfModel(read_model_config(REPO / "conf" / "tdnnf.conf"), 3600, xent_branch=True)
    lda = sum(p.numel() for p in model.lda.parameters())
    assert model.num_params() - lda == 9431072


def test_checkpoints_with_and_without_the_branch_load(tmp_path):
    config = tiny_config()
    for xent in (False, True):
        torch.manual_seed(0)
        model = TdnnfModel(config, 9, xent_branch=xent)
        path = tmp_path / f"xent-{xent}.pt"
        ckpt = {"model_config": config.__dict__, "num_outputs": 9, "model": model.state_dict()}
        torch.save(ckpt, path)
        loaded = load_model(path)
        assert loaded.has_xent == xent
        assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())


def test_output_xent_has_its_own_lr_factor_group():
    model = TdnnfModel(tiny_config(), 9, xent_branch=True)
    groups = param_groups(model, 0.1)
    assert [g["lr_factor"] for g in groups] == [1.0, pytest.approx(0.5)]
    xent_out = {id(p) for p in model.xent["output-xent"].parameters()}
    assert {id(p) for p in groups[1]["params"]} == xent_out
    every = [id(p) for g in groups for p in g["params"]]
    assert sorted(every) == sorted(id(p) for p in model.parameters())  # each exactly once
    optimizer = torch.optim.Adam(groups, lr=1.0)
    set_learning_rate(optimizer, 2e-3)
    assert [g["lr"] for g in optimizer.param_groups] == [2e-3, pytest.approx(1e-3)]
    assert len(param_groups(TdnnfModel(tiny_config(), 9), 0.1)) == 1


def test_l2_penalty_equals_a_hand_computation():
    """Every parameter 0.5: penalty = sum_kind l2_kind / chunk * 0.25 * (parameter count of the
    kind), the counts written out from the layer shapes (weights and biases, lda excluded)."""
    c = tiny_config()
    C, H, B, S = 9, c.hidden_dim, c.bottleneck_dim, c.prefinal_dim
    model = TdnnfModel(c, C, xent_branch=True)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.5)
    in_dim = 3 * c.feat_dim + c.ivector_dim
    counts = {
        "tdnn": in_dim * H + H,
        # per tdnnf layer: linear H -> B (2 taps, or 1 with stride 0), affine B -> H (+ bias)
        "tdnnf": sum((2 if s else 1) * (H * B + B * H) + H for s in c.time_strides),
        # prefinal-l, prefinal-chain (affine + bias, linear), prefinal-xent (the same)
        "prefinal": H * S + 2 * (S * H + H + H * S),
        "output": 2 * (S * C + C),  # output, output-xent
    }
    l2 = LayerL2Config(l2_tdnn=0.1, l2_tdnnf=0.2, l2_prefinal=0.3, l2_output=0.4, l2_chunk_frames=7)
    weights = {"tdnn": 0.1, "tdnnf": 0.2, "prefinal": 0.3, "output": 0.4}
    expected = sum(weights[k] / 7 * 0.25 * n for k, n in counts.items())
    assert float(l2_penalty(model, l2)) == pytest.approx(expected, rel=1e-6)
    l2_penalty(model, l2).backward()  # d/dp = 2 * l2 / chunk * p
    assert float(model.layers["tdnn1"].affine.bias.grad[0]) == pytest.approx(2 * 0.1 / 7 * 0.5)
    assert float(model.xent["output-xent"].weight.grad[0, 0, 0]) == pytest.approx(2 * 0.4 / 7 * 0.5)
    assert model.lda.weight.grad is None
    assert not LayerL2Config().enabled
    with pytest.raises(UserError, match="--l2-tdnnf must be >= 0"):
        LayerL2Config(l2_tdnnf=-1.0)


def test_compute_loss_trains_the_branch(compiler):
    """One step of the trainer's compute_loss with xent: finite, every parameter (the branch's
    too) gets a gradient; info holds both objectives."""
    torch.manual_seed(5)
    model = TdnnfModel(tiny_config(), compiler.num_outputs, xent_branch=True).train()
    batch = {
        "feats": torch.randn(2, 60, 5),
        "ivectors": torch.randn(2, 6, 6),
        "feat_lens": torch.tensor([60, 45]),
        "texts": ["ab b", "b"],
    }
    loss_fn = LfMmiLoss(compiler, xent_regularize=0.1)
    loss, frames, info = compute_loss(model, loss_fn, batch, torch.device("cpu"))
    assert frames == 20 + 15 and info["num_failed"] == 0 and info["xent"] > 0
    (loss / frames).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert float(model.xent["prefinal-xent"].affine.weight.grad.abs().sum()) > 0


def test_regularizer_options_are_checked_and_off_keeps_the_record(tmp_path):
    args = argparse.Namespace(xent_regularize=0.1, loss="ctc")
    with pytest.raises(UserError, match="--xent-regularize needs --loss=lfmmi"):
        xent_weight(args)
    with pytest.raises(UserError, match="must be >= 0"):
        xent_weight(argparse.Namespace(xent_regularize=-0.1, loss="lfmmi"))
    from asr2emo.bin.train_lfmmi import get_parser

    files = [tmp_path / n for n in ("train.jsonl.gz", "valid.jsonl.gz")]
    for f in files:
        f.write_text("")
    (tmp_path / "lang").mkdir()
    pos = [str(files[0]), str(files[1]), str(tmp_path / "lang"), str(tmp_path / "exp")]
    mini = REPO / "conf" / "mini" / "lfmmi.conf"
    off = get_parser().parse_args(["--config", str(mini), *pos])
    settings = training_record(off, tiny_config())["config"]
    assert not any(k.startswith(("xent", "l2_")) for k in settings if k != "l2_regularize")
    on = get_parser().parse_args(["--config", str(REPO / "conf" / "lfmmi.conf"), *pos])
    settings = training_record(on, tiny_config())["config"]
    assert settings["xent_regularize"] == 0.1 and settings["l2_tdnnf"] == 0.008
