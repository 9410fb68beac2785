"""The deploy path's numpy feature side against independent references: resampling against
scipy, MFCC against kaldi-native-fbank run directly, online i-vectors against the torch
extractor; block-wise results equal whole-signal ones."""

import kaldi_native_fbank as knf
import numpy as np
import pytest
import scipy.signal
import torch

from asr2emo.deploy.ivector import IvectorModel, OnlineIvectors, extract_online
from asr2emo.deploy.mfcc import StreamingMfcc, compute_mfcc
from asr2emo.deploy.resample import StreamingResampler, resample_poly
from asr2emo.emotion.onnx_export import extractor_arrays
from asr2emo.features.mfcc import KaldiMfccHiresConfig
from asr2emo.ivector import IvectorExtractor
from asr2emo.ivector.extractor import IvectorOptions
from asr2emo.ivector.pca import Pca, splice
from asr2emo.ivector.ubm import init_gmm
from conftest import knf_frames, knf_hires_opts


@pytest.mark.parametrize("rate,n", [(44100, 44100), (22050, 9000), (8000, 4001), (48000, 7)])
def test_resample_equals_scipy(rate, n):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.3
    g = np.gcd(rate, 16000)
    ref = scipy.signal.resample_poly(x.astype(np.float64), 16000 // g, rate // g)
    got = resample_poly(x, rate, 16000)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() < 1e-9
    stream, parts, s = StreamingResampler(rate, 16000, chunk=997), [], 0
    rng = np.random.default_rng(rate)
    while s < n:
        k = int(rng.integers(1, 5000))
        parts.append(stream.accept(x[s : s + k]))
        s += k
    parts.append(stream.finish())
    assert np.array_equal(np.concatenate(parts), got)


def test_mfcc_equals_kaldi_native_fbank_in_blocks():
    rng = np.random.default_rng(0)
    x = (0.3 * np.sin(np.arange(16123) / 7) + 0.05 * rng.standard_normal(16123)).astype(np.float32)
    opts = knf_hires_opts(knf.MfccOptions())
    opts.num_ceps = 40
    ref = knf_frames(knf.OnlineMfcc(opts), x)
    conf = KaldiMfccHiresConfig().to_dict()
    whole = compute_mfcc(x, conf)
    # lhotse's count: (16123 + 80) // 160 = 101 frames, Kaldi's snip-edges 99, the last repeated
    assert whole.shape == (101, 40) and len(ref) == 99
    assert np.abs(whole[:99] - ref).max() < 1e-3 and (whole[99:] == whole[98]).all()
    stream, parts, s = StreamingMfcc(conf), [], 0
    while s < len(x):
        k = int(rng.integers(1, 3000))
        parts.append(stream.accept(x[s : s + k]))
        s += k
    parts.append(stream.finish())
    assert np.array_equal(np.concatenate(parts), whole)


@pytest.fixture(scope="module")
def extractor():
    """A random extractor of the real kind: PCA, diagonal UBM, T (8 Gaussians, 12 dims)."""
    torch.manual_seed(1)
    # a short CMVN window, so that blocks cross its filling and its sliding
    opts = IvectorOptions(
        num_gselect=3, min_post=0.1, max_count=30.0, cmn_window=25, global_frames=7
    )
    frames = splice(torch.randn(3000, 40) * 2, opts.splice_context)
    pca = Pca.estimate(frames, 12)
    ubm = init_gmm(pca(frames), 8, torch.Generator().manual_seed(1))
    T = torch.randn(8, 12, 5) * 0.2
    ex = IvectorExtractor(pca, ubm, T, opts, prior_offset=4.0, cmvn_mean=torch.randn(40) * 0.5)
    return ex, IvectorModel(*extractor_arrays(ex))


@pytest.mark.parametrize("num_frames", [1, 3, 10, 11, 57, 2500])
def test_online_ivectors_equal_torch_extractor(extractor, num_frames):
    ex, model = extractor
    rng = np.random.default_rng(num_frames)
    feats = (rng.standard_normal((num_frames, 40)) * 2).astype(np.float32)
    ref = ex.extract_online(feats)
    got = extract_online(model, feats)
    assert got.shape == ref.shape == (-(-num_frames // 10), 5)
    # the torch extractor accumulates in float32, ours in float64
    assert np.abs(got - ref).max() < 1e-4 * max(1.0, np.abs(ref).max())
    online, parts, s = OnlineIvectors(model), [], 0
    while s < num_frames:
        k = int(rng.integers(1, 40))
        parts.append(online.accept(feats[s : s + k]))
        s += k
    parts.append(online.finish())
    assert np.allclose(np.concatenate(parts), got, atol=1e-6, rtol=0)
