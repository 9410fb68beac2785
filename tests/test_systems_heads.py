"""The pieces of the emotion systems against hand computations: class-balanced losses (the
utterance heads' and stage 8's frame head's), the frame-level layer mixture, the early-fusion
blocks and the alignment of every layer's frames."""

import copy

import numpy as np
import pytest
import torch

from asr2emo.bench.synthetic import make_synthetic_cuts
from asr2emo.emotion.data import load_frames
from asr2emo.emotion.head import EmotionHead
from asr2emo.emotion.train import HeadConfig, train_head
from asr2emo.systems.heads import (
    LayerMixFrameHead,
    LayerMixHead,
    UtteranceHeadConfig,
    fit,
    stats_forward,
)
from asr2emo.systems.pooling import layer_frames
from asr2emo.systems.run import block_features
from asr2emo.utils.errors import UserError


def weighted_nll(log_probs: np.ndarray, y: np.ndarray, num_classes: int) -> float:
    """Hand computation: w_c = n / (C n_c) over the labels y, loss = sum_i w_yi (-log p_i,yi)
    / sum_i w_yi (the weighted mean of torch's NLL with a class weight)."""
    counts = np.bincount(y, minlength=num_classes)
    w = len(y) / (num_classes * counts)
    nll = -log_probs[np.arange(len(y)), y]
    return float((w[y] * nll).sum() / w[y].sum())


def test_balanced_utterance_loss_equals_the_hand_computed_weighted_loss():
    rng = np.random.default_rng(0)
    num, classes = 30, ["a", "b", "c"]
    labels = np.array([0] * 18 + [1] * 9 + [2] * 3)  # 6 : 3 : 1
    stats = torch.from_numpy(rng.standard_normal((num, 2, 5)).astype(np.float32))
    cfg = UtteranceHeadConfig(hidden_dim=4, dropout=0.0, batch_size=num, max_epochs=1, seed=5)
    torch.manual_seed(0)
    model = LayerMixHead(2, 5, 3, cfg)
    model.fit_standardizer(stats)
    before = copy.deepcopy(model).eval()
    train = np.arange(num)
    hist = fit(model, stats_forward(stats), labels, train, train, classes, cfg, 0, "balanced")
    with torch.no_grad():
        log_probs = torch.log_softmax(before(stats), dim=1).double().numpy()
    # one minibatch of every utterance: epoch 1's loss is that of the weights before the step
    assert hist["train_loss"][0] == pytest.approx(weighted_nll(log_probs, labels, 3), rel=1e-5)
    unweighted = float(-log_probs[np.arange(num), labels].mean())
    assert abs(unweighted - weighted_nll(log_probs, labels, 3)) > 1e-3  # the weights matter


def test_balanced_frame_loss_of_stage8_equals_the_hand_computed_weighted_loss(tmp_path):
    data = load_frames(make_synthetic_cuts(tmp_path, utts_per_speaker=6, dim=4, seed=1))
    train = np.flatnonzero(data.sessions != 1)
    cfg = HeadConfig(hidden_dims=[3], dropout=0.0, batch_size=10**6, max_epochs=1,
                     class_weight="balanced", seed=2)  # fmt: skip
    torch.manual_seed(0)
    head = EmotionHead(data.dim, len(data.classes), cfg.hidden_dims, cfg.dropout)
    head.standardizer.fit(data.feats, torch.from_numpy(data.frame_rows(train)))
    before = copy.deepcopy(head).eval()
    res = train_head(data, train, None, cfg, num_epochs=1, head=head)
    rows = data.frame_rows(train)
    y = np.repeat(data.labels[train], data.num_frames()[train])  # every frame its utterance's
    with torch.no_grad():
        log_probs = before(data.feats[torch.from_numpy(rows)]).double().numpy()
    ref = weighted_nll(log_probs, y, len(data.classes))  # frame counts give the weights
    assert res.history["train_loss"][0] == pytest.approx(ref, rel=1e-5)


def test_frame_layer_mixture_is_a_softmax_weighted_sum_of_standardized_layers():
    torch.manual_seed(0)
    cfg = HeadConfig(hidden_dims=[5], dropout=0.0)
    x = torch.randn(40, 3, 4) * torch.tensor([1.0, 3.0, 0.5])[None, :, None] + 2.0
    head = LayerMixFrameHead(3, 4, 2, cfg)
    head.fit_standardizer(x, torch.arange(20))  # the first 20 rows train
    head.logits.data = torch.tensor([0.5, -1.0, 2.0])
    w = head.layer_weights()
    assert torch.all(w > 0) and float(w.sum()) == pytest.approx(1.0, abs=1e-6)
    e = np.exp([0.5, -1.0, 2.0])
    np.testing.assert_allclose(w.detach().numpy(), e / e.sum(), rtol=1e-6)
    xt = x[:20].double()
    mean, std = xt.mean(dim=0), xt.std(dim=0, unbiased=False)
    mixed = sum(float(w[j]) * ((x[:, j].double() - mean[j]) / std[j]) for j in range(3))
    ref = torch.log_softmax(head.net(mixed.float()), dim=-1)
    torch.testing.assert_close(head.eval()(x), ref, atol=1e-5, rtol=1e-5)
    # all the weight on one layer: the paper's head on that layer's standardized frames
    head.logits.data = torch.tensor([-1e4, 1e4, -1e4])
    one = torch.log_softmax(head.net(((x[:, 1].double() - mean[1]) / std[1]).float()), dim=-1)
    torch.testing.assert_close(head(x), one, atol=1e-5, rtol=1e-5)


def test_early_fusion_blocks_have_unit_variance_on_training_rows_only():
    rng = np.random.default_rng(3)
    a = rng.normal(5.0, 2.0, size=(50, 8))
    b = rng.normal(-1.0, 0.1, size=(50, 2))
    train = np.arange(30)
    x = block_features([a, b], train)
    assert x.shape == (50, 10)
    for cols in (slice(0, 8), slice(8, 10)):
        np.testing.assert_allclose(x[train, cols].mean(axis=0), 0.0, atol=1e-12)
        assert x[train, cols].var(axis=0).sum() == pytest.approx(1.0)
    b2 = b.copy()
    b2[30:] += 100.0  # test rows never shape the standardization
    np.testing.assert_allclose(block_features([a, b2], train)[train], x[train])


def test_layer_frames_align_every_layer_row_for_row(tmp_path):
    # same seed, other separation: the same utterances and frame counts, other frames
    for layer, sep in (("tdnn1", 0.5), ("tdnnf2", 2.0)):
        make_synthetic_cuts(tmp_path / layer, utts_per_speaker=4, separation=sep, seed=4)
    make_synthetic_cuts(tmp_path / "tdnnf3", utts_per_speaker=4, seed=5)
    data = load_frames(tmp_path / "tdnnf2" / "cuts.jsonl.gz")
    mixed = layer_frames(tmp_path, ["tdnn1", "tdnnf2"], data)
    assert mixed.feats.shape == (len(data.feats), 2, data.dim)
    ref = load_frames(tmp_path / "tdnn1" / "cuts.jsonl.gz").feats
    torch.testing.assert_close(mixed.feats[:, 0], ref)
    torch.testing.assert_close(mixed.feats[:, 1], data.feats)
    assert mixed.ids == data.ids and np.array_equal(mixed.offsets, data.offsets)
    with pytest.raises(UserError, match="frame counts differ"):
        layer_frames(tmp_path, ["tdnn1", "tdnnf3"], data)
