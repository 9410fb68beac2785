"""Batchnorm over valid frames only: padded frames of a shorter utterance stay out of the batch
statistics (MaskedBatchNorm1d), and without padding it is torch's BatchNorm1d exactly."""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import pytest
import torch

from asr2emo.model.layers import MaskedBatchNorm1d
from asr2emo.model.tdnnf import TdnnfConfig, TdnnfModel

C = 4


def _batch(lens: List[int], T: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lens), C, T, generator=g) * 2.0 + 1.5
    for i, n in enumerate(lens):
        x[i, :, n:] = 1e3  # padding that would dominate any statistic it entered
    return x


def test_statistics_are_those_of_the_valid_frames_by_hand():
    lens = [9, 5]
    x = _batch(lens, 9)
    bn = MaskedBatchNorm1d(C, affine=False).train()
    y = bn(x, torch.tensor(lens))

    valid = np.concatenate([x[i, :, :n].double().numpy() for i, n in enumerate(lens)], axis=1)
    n = valid.shape[1]  # 14 frames
    mean = valid.sum(axis=1) / n
    var = ((valid - mean[:, None]) ** 2).sum(axis=1) / n
    for i, k in enumerate(lens):
        want = (x[i, :, :k].double().numpy() - mean[:, None]) / np.sqrt(var[:, None] + bn.eps)
        np.testing.assert_allclose(y[i, :, :k].double().numpy(), want, rtol=0, atol=1e-5)
    # running statistics: momentum 0.1 from (0, 1), variance unbiased (n - 1), as torch keeps it
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        bn.running_var.numpy(), 0.9 + 0.1 * var * n / (n - 1), rtol=1e-5, atol=1e-6
    )
    assert int(bn.num_batches_tracked) == 1

    # and torch's own BatchNorm1d over the same 14 frames as one sequence agrees
    ref = torch.nn.BatchNorm1d(C, affine=False).train()
    y_ref = ref(torch.from_numpy(valid).float().unsqueeze(0))[0]
    got = torch.cat([y[i, :, :k] for i, k in enumerate(lens)], dim=1)
    torch.testing.assert_close(got, y_ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(bn.running_mean, ref.running_mean, rtol=0, atol=1e-6)
    torch.testing.assert_close(bn.running_var, ref.running_var, rtol=0, atol=1e-6)


def test_gradients_do_not_reach_the_padding():
    lens = torch.tensor([7, 3])
    x = _batch(lens.tolist(), 7).requires_grad_(True)
    bn = MaskedBatchNorm1d(C, affine=False).train()
    y = bn(x, lens)
    mask = (torch.arange(7)[None, :] < lens[:, None]).unsqueeze(1)
    (y * mask).pow(2).sum().backward()
    assert torch.all(x.grad[~mask.expand_as(x)] == 0)
    assert torch.all(x.grad[mask.expand_as(x)] != 0)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_without_padding_it_is_torch_batchnorm_bit_for_bit(momentum):
    ours = MaskedBatchNorm1d(C, affine=False, momentum=momentum)
    ref = torch.nn.BatchNorm1d(C, affine=False, momentum=momentum)
    for step in range(3):
        x = _batch([6, 6, 6], 6, seed=step)
        full = torch.full((3,), 6)
        for lens in (full, None):
            ours.train(), ref.train()
            y, y_ref = ours(x, lens), ref(x)
            assert torch.equal(y, y_ref)
            ours.eval(), ref.eval()
            # eval mode ignores lens: the running statistics, as today
            assert torch.equal(ours(x, torch.tensor([6, 2, 1])), ref(x))
    assert torch.equal(ours.running_mean, ref.running_mean)
    assert torch.equal(ours.running_var, ref.running_var)
    assert torch.equal(ours.num_batches_tracked, ref.num_batches_tracked)
    assert list(ours.state_dict()) == list(ref.state_dict())


def tiny_model() -> TdnnfModel:
    config = TdnnfConfig(
        num_layers=7,
        hidden_dim=16,
        bottleneck_dim=4,
        prefinal_dim=8,
        time_strides=[1, 1, 0, 3, 3, 3],
        ivector_dim=3,
        feat_dim=5,
        dropout_schedule="0",
    )
    torch.manual_seed(3)
    return TdnnfModel(config, 7)


def _capture(model: TdnnfModel) -> Tuple[Dict[str, list], list]:
    """Each batchnorm's (input, lens) of the next forward passes."""
    seen: Dict[str, list] = {}
    handles = []
    for name, m in model.named_modules():
        if isinstance(m, MaskedBatchNorm1d):
            seen[name] = []
            handles.append(
                m.register_forward_hook(
                    lambda mod, inp, out, name=name: seen[name].append(
                        (inp[0].detach().clone(), None if len(inp) < 2 else inp[1])
                    )
                )
            )
    return seen, handles


def test_model_batch_statistics_cover_each_utterance_as_if_alone():
    """Two utterances of 23 and 14 frames in one batch: each batchnorm's valid frames of an
    utterance are exactly the frames that utterance alone computes there (eval mode: same
    numbers), and in training the batch statistics are those of these frames by hand."""
    model = tiny_model()
    f_lens = [23, 14]
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(2, 23, 5, generator=g)
    iv = torch.randn(2, 3, 3, generator=g)
    lens = torch.tensor(f_lens)

    # eval mode: the batch's valid frames at every batchnorm are the utterance alone's
    model.eval()
    seen, handles = _capture(model)
    with torch.no_grad():
        model(feats, iv, lens)
        for i, n in enumerate(f_lens):
            model(feats[i : i + 1, :n], iv[i : i + 1], lens[i : i + 1])
    for h in handles:
        h.remove()
    for name, calls in seen.items():
        (xb, lb), alone = calls[0], calls[1:]
        for i, (xa, la) in enumerate(alone):
            assert int(lb[i]) == xa.shape[2] and int(la[0]) == xa.shape[2], name
            torch.testing.assert_close(xb[i, :, : xa.shape[2]], xa[0], rtol=1e-5, atol=1e-5)
        assert xb.shape[2] == alone[0][0].shape[2]  # the longer one is not padded at all

    # training: batch statistics (momentum 1 makes the running ones equal them) by hand
    model.train()
    for m in model.modules():
        if isinstance(m, MaskedBatchNorm1d):
            m.momentum = 1.0
    seen, handles = _capture(model)
    with torch.no_grad():
        model(feats, iv, lens)
    for h in handles:
        h.remove()
    modules = dict(model.named_modules())
    for name, [(x, lb)] in seen.items():
        valid = torch.cat([x[i, :, : int(k)] for i, k in enumerate(lb)], dim=1).double()
        n = valid.shape[1]
        assert n < 2 * x.shape[2]  # the shorter one had padding here
        bn = modules[name]
        torch.testing.assert_close(
            bn.running_mean.double(), valid.mean(dim=1), rtol=1e-5, atol=1e-5
        )
        torch.testing.assert_close(
            bn.running_var.double(), valid.var(dim=1, unbiased=True), rtol=1e-4, atol=1e-5
        )
