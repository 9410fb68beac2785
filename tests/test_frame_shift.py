"""Training-time shift of the subsampling phase (Kaldi nnet3-chain-copy-egs --frame-shift):
output frame j of shift k sits at input frame k + 3j; shift 0 is the model as it was, and
decoding and extraction stay at phase 0."""

from __future__ import annotations

import pytest
import torch

from asr2emo.model.tdnnf import TdnnfConfig, TdnnfModel
from conftest import YESNO, train_yesno_tdnnf


def tiny_model(**kw) -> TdnnfModel:
    config = TdnnfConfig(
        num_layers=7,
        hidden_dim=16,
        bottleneck_dim=4,
        prefinal_dim=8,
        time_strides=[1, 1, 0, 3, 3, 3],
        ivector_dim=3,
        feat_dim=5,
        dropout_schedule="0",
        **kw,
    )
    torch.manual_seed(3)
    model = TdnnfModel(config, 7)
    model.train()
    g = torch.Generator().manual_seed(8)
    with torch.no_grad():  # non-trivial running statistics for eval mode
        for _ in range(2):
            model(torch.randn(2, 40, 5, generator=g), torch.randn(2, 4, 3, generator=g))
    return model


@pytest.mark.parametrize(
    "T,shift,frames",
    [(10, 0, [0, 3, 6, 9]), (10, 1, [1, 4, 7]), (10, 2, [2, 5, 8]), (11, 1, [1, 4, 7, 10]),
     (11, 2, [2, 5, 8]), (12, 2, [2, 5, 8, 11]), (2, 2, [1])],
)  # fmt: skip
def test_output_frames_sit_at_shift_plus_multiples_of_three(T, shift, frames):
    """Hand-listed output frames of a T-frame cut; with the feature of frame t equal to t, the
    centre of each output frame's input window is that frame (the last one for a cut shorter
    than the shift)."""
    model = tiny_model()
    assert int(model.num_output_frames(torch.tensor([T]), shift)[0]) == len(frames)
    assert model.num_output_frames(T, shift) == len(frames)
    feats = torch.arange(T, dtype=torch.float32).view(1, T, 1).expand(1, T, 5).contiguous()
    x = model.gather_input(feats, torch.zeros(1, 1, 3), torch.tensor([T]), frame_shift=shift)
    # rows 5..9 of the input are splice offset 0; column L + 3j is output frame j's centre
    L = model.left_context - 1  # the splice's own frame of left context is already consumed
    centres = x[0, 5, L : x.shape[2] - L : 3]
    assert centres.tolist() == frames


def test_shift_zero_is_the_phase_of_decoding_and_extraction():
    model = tiny_model()
    g = torch.Generator().manual_seed(1)
    feats, iv = torch.randn(2, 29, 5, generator=g), torch.randn(2, 3, 3, generator=g)
    lens = torch.tensor([29, 19])
    model.eval()
    with torch.no_grad():
        y, out_lens = model(feats, iv, lens)
        y0, out0 = model(feats, iv, lens, frame_shift=0)
    ext = model.extract(feats, iv, "output", lens, chunk_size=4)
    assert torch.equal(y, y0) and torch.equal(out_lens, out0)
    torch.testing.assert_close(ext, y, rtol=0, atol=1e-5)
    assert out_lens.tolist() == [10, 7]
    # a training shift does not reach eval-mode forwards
    model.set_frame_shift(2)
    with torch.no_grad():
        y2, _ = model(feats, iv, lens)
    assert torch.equal(y2, y)
    with pytest.raises(ValueError, match="outside"):
        model.set_frame_shift(3)


@pytest.mark.parametrize("shift", [1, 2])
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_shift_k_is_the_model_on_the_input_advanced_by_k_frames(shift, mode):
    """With frames 0..k of a cut equal (so edge copies of frame 0 and of frame k agree) and an
    i-vector per frame, shift k gives what shift 0 gives on the cut without its first k frames,
    every frame, batched with a second cut of another length, in eval and in training mode."""
    model = tiny_model(ivector_period=1)
    g = torch.Generator().manual_seed(2)
    lens = torch.tensor([31, 20])
    feats = torch.randn(2, 31, 5, generator=g)
    iv = torch.randn(2, 31, 3, generator=g)
    feats[:, :shift] = feats[:, shift : shift + 1]
    iv[:, :shift] = iv[:, shift : shift + 1]
    model.train(mode == "train")
    model.set_frame_shift(shift)
    with torch.no_grad():
        y, out_lens = model(feats, iv, lens, frame_shift=shift)
        if mode == "train":  # the training default is the shift set
            y_default, _ = model(feats, iv, lens)
            assert torch.equal(y_default, y)
        y_adv, out_adv = model(feats[:, shift:], iv[:, shift:], lens - shift, frame_shift=0)
    assert out_lens.tolist() == [len(range(shift, 31, 3)), len(range(shift, 20, 3))]
    assert torch.equal(out_lens, out_adv)
    assert y.shape[1] == int(out_lens.max())
    for i, n in enumerate(out_lens.tolist()):
        torch.testing.assert_close(y[i, :n], y_adv[i, :n], rtol=0, atol=1e-5)


def test_the_trainer_cycles_the_shift_per_step(tmp_path, monkeypatch):
    """--cycle-frame-shift (conf/mini/lfmmi.conf): minibatch at global step s uses s % 3."""
    if not YESNO.is_dir():
        pytest.skip(f"{YESNO} not present")
    seen = []
    orig = TdnnfModel.set_frame_shift
    monkeypatch.setattr(
        TdnnfModel, "set_frame_shift", lambda self, k: (seen.append(k), orig(self, k))[1]
    )
    train_yesno_tdnnf(tmp_path, extra=["--num-epochs", "1", "--recompute-stats-batches", "0"])
    assert len(seen) >= 5 and seen == [s % 3 for s in range(len(seen))]
