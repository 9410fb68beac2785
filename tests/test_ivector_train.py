"""i-vector extractor on real speech (../shared/data/urdu): EM monotonicity, speaker separation,
online vs offline, and the online statistics against a plain per-frame reference."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest
import torch
from lhotse import Recording

from asr2emo.features.mfcc import compute_mfcc
from asr2emo.ivector import IvectorExtractor
from asr2emo.ivector.cmvn import online_cmvn
from asr2emo.ivector.extractor import IvectorOptions
from asr2emo.ivector.train import TrainOptions, train_extractor
from asr2emo.report.speaker_separation import length_normalized, within_between

URDU = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "urdu"

pytestmark = pytest.mark.skipif(not URDU.is_dir(), reason="../shared/data is not available")


@pytest.fixture(scope="module")
def urdu():
    """Hires MFCC of up to 6 utterances of each speaker having at least 4 (speaker: SM1, SF2...)."""
    by_spk = collections.defaultdict(list)
    for wav in sorted(URDU.glob("*/*.wav")):
        by_spk[wav.name.split("_")[0]].append(wav)
    feats, speakers = [], []
    for spk in sorted(by_spk):
        if len(by_spk[spk]) < 4:
            continue
        for wav in by_spk[spk][:6]:
            rec = Recording.from_file(wav)
            feats.append(compute_mfcc(rec.load_audio()[0], rec.sampling_rate))
            speakers.append(spk)
    return feats, speakers


@pytest.fixture(scope="module")
def trained(urdu):
    torch.set_num_threads(1)
    feats, _ = urdu
    # 2700 scaled frames over 64 Gaussians: Kaldi's --gaussian-min-count=100 freezes 60 of them
    opts = TrainOptions(
        num_gauss=64,
        ivector_dim=32,
        num_iters_ubm=6,
        num_iters=6,
        subsample=1,
        gaussian_min_count=10,
    )
    return train_extractor(feats, opts, IvectorOptions())


def test_em_objectives_never_decrease(trained) -> None:
    _, objective = trained
    ubm, tv = np.array(objective["ubm"]), np.array(objective["tv"])
    print("UBM avg loglik per iteration:", np.round(ubm, 4))
    print("T-matrix objective per iteration:", np.round(tv, 4))
    assert len(ubm) == 7 and len(tv) == 7
    assert np.all(np.diff(ubm) >= -1e-9 * np.abs(ubm[:-1]))
    assert np.all(np.diff(tv) >= -1e-9 * np.abs(tv[:-1]))
    assert ubm[-1] > ubm[0] + 1 and tv[-1] > tv[0] + 1  # EM actually learned something


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def test_ivectors_separate_speakers(urdu, trained) -> None:
    feats, speakers = urdu
    extractor, _ = trained
    iv = length_normalized(np.stack([extractor.extract_offline(f) for f in feats]))
    within, between = within_between(iv, speakers)
    print(
        f"{len(set(speakers))} speakers, {len(feats)} utterances: mean cosine within speaker "
        f"{within:.3f}, between speakers {between:.3f}"
    )
    assert within > between + 0.2


def test_online_last_period_matches_offline(urdu, trained) -> None:
    feats, _ = urdu
    extractor, _ = trained
    cos = []
    for f in feats:
        online = extractor.extract_online(f)
        assert online.shape == (-(-len(f) // 10), 32)
        cos.append(cosine(online[-1], extractor.extract_offline(f)))
    print(f"cosine(last online, offline): min {min(cos):.4f}, mean {np.mean(cos):.4f}")
    # the last period misses at most 9 of the (>= 150) frames of these utterances
    assert min(cos) > 0.98 and np.mean(cos) > 0.99


def reference_online(extractor: IvectorExtractor, feats: np.ndarray, upto: int) -> np.ndarray:
    """Plain numpy/loops: i-vector from frames 0..upto (posteriors on the online-CMVN'd frames,
    stats of the raw ones, L, b per Gaussian, the prior offset added and removed)."""
    x = extractor.transform(torch.as_tensor(feats)).double().numpy()[: upto + 1]
    o = extractor.opts
    normed = online_cmvn(torch.as_tensor(feats), extractor.cmvn_mean, o.cmvn)
    xg = extractor.transform(normed).double().numpy()[: upto + 1]
    w = extractor.ubm.weights.numpy()
    m, v = extractor.ubm.means.numpy(), extractor.ubm.variances.numpy()
    T = extractor.T.numpy()
    C, D, R = T.shape
    N, F = np.zeros(C), np.zeros((C, D))
    for t in range(len(x)):
        ll = np.log(w) - 0.5 * (np.log(2 * np.pi * v) + (xg[t] - m) ** 2 / v).sum(1)
        top = np.argsort(-ll)[: o.num_gselect]
        p = np.exp(ll[top] - ll[top].max())
        p /= p.sum()
        p[(p < o.min_post) & (np.arange(len(p)) > 0)] = 0
        p = p / p.sum() * o.posterior_scale
        for c, pc in zip(top, p):
            N[c] += pc
            F[c] += pc * x[t]
    L, b = np.eye(R), np.zeros(R)
    b[0] = extractor.prior_offset
    for c in range(C):
        L += N[c] * T[c].T @ (T[c] / v[c][:, None])
        b += T[c].T @ (F[c] / v[c])
    ivector = np.linalg.solve(L, b)
    ivector[0] -= extractor.prior_offset
    return ivector


def test_online_equals_reference(urdu, trained) -> None:
    feats, _ = urdu
    extractor, _ = trained
    f = feats[0]
    online = extractor.extract_online(f)
    for p in (0, 1, 7, len(online) - 1):
        ref = reference_online(extractor, f, p * 10)
        np.testing.assert_allclose(online[p], ref, rtol=2e-3, atol=2e-3 * np.abs(ref).max())


def test_save_load_roundtrip(tmp_path: Path, urdu, trained) -> None:
    feats, _ = urdu
    extractor, _ = trained
    extractor.save(tmp_path)
    back = IvectorExtractor.load(tmp_path)
    np.testing.assert_array_equal(back.extract_online(feats[1]), extractor.extract_online(feats[1]))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "final.ie",
        "final.pca",
        "final.ubm",
        "global_cmvn.stats",
        "ivector.json",
    ]


def test_ubm_frames_equal_splicing_everything_then_sampling():
    """The bounded-memory frame selection gives exactly the frames (and order) of splicing every
    frame to float64 and then drawing the subset, which it replaced."""
    from asr2emo.ivector.pca import splice
    from asr2emo.ivector.train import ubm_frames

    rng = np.random.default_rng(0)
    feats = [
        rng.standard_normal((int(rng.integers(20, 200)), 40)).astype(np.float32) for _ in range(50)
    ]
    for max_frames in (10**9, 1000, 37):
        opts = TrainOptions(ubm_max_frames=max_frames, subsample=2, seed=3)
        ref = torch.cat([splice(torch.as_tensor(f, dtype=torch.float64), 3)[::2] for f in feats])
        if ref.shape[0] > max_frames:
            g = torch.Generator().manual_seed(opts.seed)
            ref = ref[torch.randperm(ref.shape[0], generator=g)[:max_frames]]
        got = ubm_frames(feats, 3, opts)
        assert got.dtype == torch.float64 and torch.equal(got, ref), max_frames
