"""SpecAugment on MFCC: the log-mel mapping against kaldi-native-fbank, masks, determinism."""

from __future__ import annotations

import random
from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np
import pytest
import torch
from lhotse import Recording

from asr2emo.features.mfcc import KaldiMfccHires, KaldiMfccHiresConfig
from asr2emo.model.specaug import MfccSpecAugment, SpecAugmentConfig
from asr2emo.utils.errors import UserError
from conftest import knf_frames, knf_hires_opts

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
URDU_WAV = DATA / "urdu" / "Angry" / "SM1_F10_A010.wav"


def direct_log_fbank(samples: np.ndarray) -> np.ndarray:
    """40 log mel energies with the mfcc_hires frame and mel options, from knf's Fbank."""
    opts = knf_hires_opts(knf.FbankOptions())
    opts.use_log_fbank = True
    opts.use_power = True
    return knf_frames(knf.OnlineFbank(opts), samples)


@pytest.mark.skipif(not URDU_WAV.is_file(), reason="../shared/data is not available")
def test_mfcc_to_logmel_equals_knf_fbank() -> None:
    samples = Recording.from_file(URDU_WAV).resample(16000).load_audio()[0]
    mfcc = KaldiMfccHires(KaldiMfccHiresConfig(dither=0.0, pad_to_lhotse=False)).extract(
        samples, 16000
    )
    ref = direct_log_fbank(samples)
    aug = MfccSpecAugment(SpecAugmentConfig(enabled=True))
    mel = aug.mfcc_to_logmel(torch.from_numpy(mfcc)).numpy()
    assert mel.shape == ref.shape
    assert np.abs(mel - ref).max() < 1e-3
    back = aug.logmel_to_mfcc(torch.from_numpy(mel)).numpy()
    assert np.abs(back - mfcc).max() < 1e-3


def test_masks_are_bands_and_spans_in_logmel() -> None:
    """Only whole mel bands (< width bins, contiguous) and whole frame spans change."""
    config = SpecAugmentConfig(
        enabled=True, freq_masks=1, freq_mask_width=8, time_masks=1, time_mask_width=30, prob=1.0
    )
    aug = MfccSpecAugment(config)
    g = torch.Generator().manual_seed(0)
    r = torch.randn(2, 300, 40, generator=g)
    logmel = 10 + torch.sign(r) * (3 + r.abs())  # no value near the mask value (the mean)
    feats = aug.logmel_to_mfcc(logmel)
    lens = torch.tensor([300, 200])
    seen_bands, seen_spans = 0, 0
    for seed in range(10):
        torch.manual_seed(seed)
        random.seed(seed)
        out = aug(feats, lens)
        assert out.shape == feats.shape
        assert torch.equal(out[1, 200:], feats[1, 200:])  # padding untouched
        diff = (aug.mfcc_to_logmel(out) - logmel).abs() > 1e-3
        for i, length in enumerate(lens.tolist()):
            changed = diff[i, :length]
            bins = changed.all(dim=0).nonzero().flatten()  # masked bands: every frame differs
            frames = changed.all(dim=1).nonzero().flatten()  # masked spans: every bin differs
            if len(bins):
                assert len(bins) < 8 and bins.max() - bins.min() + 1 == len(bins)
                seen_bands += 1
            if len(frames):
                assert len(frames) < 30 and frames.max() - frames.min() + 1 == len(frames)
                seen_spans += 1
            other = changed.clone()
            other[:, bins] = False
            other[frames, :] = False
            assert not other.any()  # nothing outside the masks changed
    assert seen_bands >= 10 and seen_spans >= 10


def test_same_seed_same_masks_and_prob_zero_is_identity() -> None:
    config = SpecAugmentConfig(enabled=True, time_warp=20, prob=1.0)
    aug = MfccSpecAugment(config)
    feats = torch.randn(3, 150, 40)
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        random.seed(3)
        np.random.seed(3)  # lhotse's time warp draws from numpy
        outs.append(aug(feats))
    assert torch.equal(outs[0], outs[1])
    assert not torch.equal(outs[0], feats)
    off = MfccSpecAugment(SpecAugmentConfig(enabled=True, prob=0.0))
    assert torch.equal(off(feats), feats)


def test_bad_settings_are_one_line_errors() -> None:
    with pytest.raises(UserError, match="num_ceps == num_mel_bins"):
        MfccSpecAugment(SpecAugmentConfig(enabled=True), num_ceps=13, num_mel_bins=23)
    with pytest.raises(UserError, match="exceeds"):
        MfccSpecAugment(SpecAugmentConfig(enabled=True, freq_mask_width=41))


def test_train_lfmmi_keys_are_checked() -> None:
    from asr2emo.bin.train_lfmmi import get_parser
    from asr2emo.model.specaug import spec_augment_config

    paths = ["train.jsonl.gz", "valid.jsonl.gz", "lang", "exp"]
    args = get_parser().parse_args(["--spec-augment", "true", "--spec-aug-prob", "1.5", *paths])
    with pytest.raises(UserError, match="--spec-aug-prob must be in"):
        spec_augment_config(args)
    args = get_parser().parse_args(["--spec-augment", "true", *paths])
    assert spec_augment_config(args).enabled
