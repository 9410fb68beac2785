"""The pieces of Kaldi's online i-vector recipe on examples small enough to compute by hand:
online CMVN, Gaussian selection on normalized frames with statistics of raw ones and the
training posterior scale, the prior offset, the minimum-divergence prior update, and the
T-matrix statistics over every utterance while PCA/UBM use a subset."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from asr2emo.deploy.ivector import IvectorModel
from asr2emo.deploy.ivector import extract_online as deploy_online
from asr2emo.emotion.onnx_export import extractor_arrays
from asr2emo.ivector.cmvn import OnlineCmvnOptions, online_cmvn
from asr2emo.ivector.extractor import IvectorExtractor, IvectorOptions
from asr2emo.ivector.pca import Pca
from asr2emo.ivector.train import (
    TrainOptions,
    TvStats,
    accumulate,
    prior_transform,
    train_extractor,
    ubm_subset,
    update_projections,
)
from asr2emo.ivector.ubm import DiagGmm

# raw MFCC (3-dim) of 5 frames and the global mean online CMVN falls back on
X = np.array([[12, 1, 0], [8, 0, 2], [20, 3, 1], [9, 1, 1], [11, 0, 0]], dtype=np.float32)
GLOBAL = torch.tensor([10.0, 0.0, 0.0], dtype=torch.float64)


def test_online_cmvn_by_hand():
    """Window 2, 1 global frame: frame 0 is normalized by (x0 + g) / 2, later frames by the
    mean of themselves and the previous frame."""
    got = online_cmvn(torch.as_tensor(X), GLOBAL, OnlineCmvnOptions(2, 1)).numpy()
    want = [[1, 0.5, 0], [-2, -0.5, 1], [6, 1.5, -0.5], [-5.5, -1, 0], [1, -0.5, -0.5]]
    np.testing.assert_allclose(got, want, atol=1e-6)
    # a window longer than the utterance: running mean topped up by min(W - n, 200) g-frames
    got = online_cmvn(torch.as_tensor(X), GLOBAL, OnlineCmvnOptions()).numpy()
    want = X[2] - (X[:3].sum(0) + 200 * GLOBAL.numpy()) / 203
    np.testing.assert_allclose(got[2], want, atol=1e-6)


def tiny_extractor(**opts) -> IvectorExtractor:
    """No splicing, identity PCA, 2 unit-variance Gaussians at 0 and at 10 (in dim 0)."""
    o = IvectorOptions(splice_context=0, num_gselect=1, min_post=0.0, **opts)
    pca = Pca(torch.zeros(3), torch.eye(3))
    ubm = DiagGmm(
        torch.tensor([0.5, 0.5]), torch.tensor([[0.0, 0, 0], [10, 0, 0]]), torch.ones(2, 3)
    )
    return IvectorExtractor(pca, ubm, torch.ones(2, 3, 1), o, cmvn_mean=GLOBAL)


def test_training_stats_select_on_cmvn_and_sum_raw_frames_scaled():
    """Subsample 2: frames 0, 2, 4, each posterior 0.1 * 2. Normalized dim 0 is 1, 6, 1, so
    Gaussians 0, 1, 0 are selected (the raw 12, 20, 11 would all pick Gaussian 1); the first
    order statistics are sums of the raw frames."""
    ex = tiny_extractor(cmn_window=2, global_frames=1)
    N, F = ex.utterance_stats(X, subsample=2)
    np.testing.assert_allclose(N.numpy(), [0.4, 0.2], atol=1e-7)
    np.testing.assert_allclose(F.numpy(), [[4.6, 0.2, 0], [4.0, 0.6, 0.2]], atol=1e-6)
    N1, _ = ex.utterance_stats(X, subsample=1)  # all 5 frames at 0.1: 1, -2, 6, -5.5, 1
    np.testing.assert_allclose(N1.numpy(), [0.4, 0.1], atol=1e-7)


def one_gaussian(max_count: float = 0.0) -> IvectorExtractor:
    """1 Gaussian, 1-dim features and i-vectors, T = 2, unit variance, prior offset 10."""
    o = IvectorOptions(
        splice_context=0, num_gselect=1, min_post=0.0, posterior_scale=1.0, max_count=max_count
    )
    ubm = DiagGmm(torch.ones(1), torch.zeros(1, 1), torch.ones(1, 1))
    T = torch.full((1, 1, 1), 2.0)
    return IvectorExtractor(Pca(torch.zeros(1), torch.eye(1)), ubm, T, o, 10.0, torch.zeros(1))


def deploy_model(ex: IvectorExtractor) -> IvectorModel:
    return IvectorModel(*extractor_arrays(ex))


@pytest.mark.parametrize("max_count,want", [(0.0, 3.2 - 10), (0.5, 13 / 3 - 10)])
def test_prior_offset_by_hand(max_count, want):
    """One frame x = 3: N = 1, F = 3. L = 1 + N T^2 = 5, b = T F + p = 16, w = 3.2, and the
    i-vector is w - p = -6.8 (the zero-mean prior would give 6 / 5). With --max-count 0.5 the
    stats are halved (Kaldi: the prior doubled): w = (3 + 10) / (1 + 2)."""
    ex = one_gaussian(max_count)
    feats = np.array([[3.0]], dtype=np.float32)
    assert ex.extract_offline(feats) == pytest.approx([want], abs=1e-5)
    assert ex.extract_online(feats)[0] == pytest.approx([want], abs=1e-5)
    assert deploy_online(deploy_model(ex), feats)[0] == pytest.approx([want], abs=1e-5)


def random_stats(C: int = 3, D: int = 2, R: int = 3, U: int = 40, seed: int = 0):
    """A random model and per-utterance statistics (raw first-order, offset-sized means)."""
    g = torch.Generator().manual_seed(seed)
    T = torch.randn(C, D, R, generator=g, dtype=torch.float64)
    var = torch.rand(C, D, generator=g, dtype=torch.float64) + 0.5
    N = torch.rand(U, C, generator=g, dtype=torch.float64) * 20
    F = N.unsqueeze(2) * (torch.randn(U, C, D, generator=g, dtype=torch.float64) + 3)
    return T, var, lambda: [(N[:17], F[:17]), (N[17:], F[17:])]


def moments(s: TvStats):
    mean = s.ivector_sum / s.num_ivectors
    return mean, s.ivector_scatter / s.num_ivectors - torch.outer(mean, mean)


def test_prior_offset_hand_values_of_the_update():
    """Mean [3, 4] and covariance diag(4, 1): the new prior offset is the Mahalanobis length
    sqrt(9/4 + 16) and the first row of V is covar^-1 mean over it."""
    s = TvStats(
        gamma=torch.zeros(1),
        Y=torch.zeros(1),
        R=torch.zeros(1),
        ivector_sum=torch.tensor([3.0, 4.0], dtype=torch.float64) * 5,
        ivector_scatter=(torch.diag(torch.tensor([4.0, 1.0])) + torch.tensor([[9, 12], [12, 16]]))
        .double()
        .mul(5),
        num_ivectors=5,
    )
    V, offset = prior_transform(s, torch.zeros(1, 1, 2), torch.ones(1, 1), torch.ones(1), False)
    p = np.sqrt(9 / 4 + 16)
    assert offset == pytest.approx(p, rel=1e-12)
    np.testing.assert_allclose(V[0].numpy(), np.array([3 / 4, 4]) / p, rtol=1e-12)


@pytest.mark.parametrize("diagonalize", [False, True])
def test_min_divergence_update_makes_ivectors_standard(diagonalize):
    """Kaldi's prior update: V maps the training i-vectors' mean to [p', 0, 0] (p' > 0) and
    their covariance (posterior means and variances) to I; the model with T_c V^-1 and prior
    N(p' e_0, I) is the old T with the prior re-estimated as N(mean, covar): its posterior
    means are V times those of that model, computed here with a full-covariance prior."""
    T, var, batches = random_stats()
    s = accumulate(T, 100.0, var, batches)
    assert s.num_ivectors == 40  # one i-vector per utterance
    weights = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    T_new = update_projections(T, s, 0.0)
    V, offset = prior_transform(s, T_new, var, weights, diagonalize)
    mean, covar = moments(s)
    np.testing.assert_allclose((V @ covar @ V.T).numpy(), np.eye(3), atol=1e-9)
    np.testing.assert_allclose((V @ mean).numpy(), [offset, 0, 0], atol=1e-9)
    assert offset > 0
    Tv = torch.linalg.solve(V.T, T_new.transpose(1, 2)).transpose(1, 2)  # T_c V^-1
    ex = one_gaussian()  # only its solve(): prior N(p e_0, I), offset removed
    ex.T, ex.prior_offset = Tv, offset
    P = np.linalg.inv(covar.numpy())
    for N, F in batches():
        for n, f in zip(N.numpy(), F.numpy()):
            L, b = P.copy(), P @ mean.numpy()
            for c in range(3):
                TS = T_new[c].numpy().T / var[c].numpy()
                L += n[c] * TS @ T_new[c].numpy()
                b += TS @ f[c]
            ref = V.numpy() @ np.linalg.solve(L, b)
            TSv = (Tv / var.unsqueeze(2)).reshape(6, 3)
            Lp = sum(n[c] * (Tv[c].T / var[c]) @ Tv[c] for c in range(3))
            r, k = np.triu_indices(3)
            got = ex.solve(
                torch.as_tensor(n)[None], Lp[r, k][None], (torch.as_tensor(f).reshape(1, 6) @ TSv)
            )[0].numpy()
            got[0] += offset
            np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)
    if diagonalize:
        # Kaldi's criterion: rows 1.. diagonalize Vsub^-T Uavg[1:, 1:] Vsub^-1, largest first
        V0, _ = prior_transform(s, T_new, var, weights, False)
        np.testing.assert_allclose(V[0].numpy(), V0[0].numpy(), atol=1e-12)
        Uavg = torch.einsum("c,cdr,cds->rs", weights, T_new / var.unsqueeze(2), T_new)
        Tinv = torch.linalg.inv(V0[1:, 1:])
        A = V[1:] @ torch.linalg.pinv(V0[1:])
        D = A @ Tinv.T @ Uavg[1:, 1:] @ Tinv @ A.T
        off = D - torch.diag(torch.diagonal(D))
        assert float(off.abs().max()) < 1e-9 and D[0, 0] >= D[1, 1]


def test_em_with_prior_update_never_decreases_the_objective():
    T, var, batches = random_stats(seed=1)
    ubm = DiagGmm(torch.tensor([0.2, 0.3, 0.5]), torch.zeros(3, 2), var)
    from asr2emo.ivector.train import tv_em_step

    offset, objs = 100.0, []
    for _ in range(5):
        T, offset, obj = tv_em_step(T, offset, ubm, batches, TrainOptions(gaussian_min_count=0))
        objs.append(obj)
    assert np.all(np.diff(objs) >= -1e-9 * np.abs(objs[:-1])), objs


def test_tmatrix_uses_every_utterance_and_ubm_a_subset():
    """8 utterances, --max-utts 3: the global CMVN mean is that of the 3 chosen utterances, and
    the T-matrix count is 0.1 * 2 per kept (every 2nd) frame of all 8."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    feats = [
        (rng.standard_normal((int(n), 40)) + rng.standard_normal(40)).astype(np.float32)
        for n in rng.integers(40, 90, size=8)
    ]
    opts = TrainOptions(
        pca_dim=6, num_gauss=4, num_iters_ubm=2, ivector_dim=3, num_iters=1, max_utts=3
    )
    ex, obj = train_extractor(feats, opts, IvectorOptions())
    sub = ubm_subset(8, 3, opts.seed)
    assert len(sub) == 3
    np.testing.assert_allclose(
        ex.cmvn_mean.numpy(), np.concatenate([feats[i] for i in sub]).mean(0), atol=1e-5
    )
    kept = sum(len(range(0, len(f), 2)) for f in feats)
    assert obj["frames"] == pytest.approx(0.1 * 2 * kept, rel=1e-6)
