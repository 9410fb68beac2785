"""Our hires MFCC extractor against kaldi-native-fbank called directly, on real speech."""

from __future__ import annotations

from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np
import pytest
from lhotse import CutSet, Recording
from lhotse.features.io import NumpyFilesWriter

from asr2emo.features.cmvn import GlobalCmvn
from asr2emo.features.mfcc import KaldiMfccHires, KaldiMfccHiresConfig, compute_mfcc
from asr2emo.features.storage import feature_writer_type
from conftest import knf_frames, knf_hires_opts

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
URDU_WAV = DATA / "urdu" / "Angry" / "SM1_F10_A010.wav"
YESNO_WAV = DATA / "yesno" / "waves_yesno" / "0_0_0_1_0_1_1_0.wav"

pytestmark = pytest.mark.skipif(not URDU_WAV.is_file(), reason="../shared/data is not available")


def direct_knf(samples: np.ndarray) -> np.ndarray:
    """kaldi-native-fbank with mfcc_hires.conf options, written out independently of our code."""
    opts = knf_hires_opts(knf.MfccOptions())
    opts.num_ceps = 40
    return knf_frames(knf.OnlineMfcc(opts), samples)


@pytest.mark.parametrize("wav,rate", [(URDU_WAV, 44100), (YESNO_WAV, 8000)])
def test_extractor_equals_direct_knf(wav: Path, rate: int) -> None:
    rec = Recording.from_file(wav)
    assert rec.sampling_rate == rate
    samples = rec.resample(16000).load_audio()[0]
    ref = direct_knf(samples)
    assert ref.shape == (1 + (len(samples) - 400) // 160, 40)  # Kaldi snip-edges count
    exact = KaldiMfccHires(KaldiMfccHiresConfig(dither=0.0, pad_to_lhotse=False))
    assert np.abs(exact.extract(samples, 16000) - ref).max() < 1e-4
    # default: Kaldi's frames, then the last one repeated up to lhotse's frame count
    ours = KaldiMfccHires(KaldiMfccHiresConfig(dither=0.0)).extract(samples, 16000)
    assert ours.shape[0] == round(len(samples) / 160) > ref.shape[0]
    assert np.abs(ours[: len(ref)] - ref).max() < 1e-4
    assert np.all(ours[len(ref) :] == ours[len(ref) - 1])
    # the predict path (resampling inside compute_mfcc) gives the same matrix as the recipe
    raw = Recording.from_file(wav).load_audio()[0]
    assert np.abs(compute_mfcc(raw, rate) - ours).max() < 1e-4


def test_wrong_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="resample"):
        KaldiMfccHires().extract(np.zeros(8000, dtype=np.float32), 8000)


def test_stored_features_through_lhotse(tmp_path: Path) -> None:
    rec = Recording.from_file(URDU_WAV)
    cuts = CutSet.from_manifests(recordings=[rec]).resample(16000)
    extractor = KaldiMfccHires()
    writer = feature_writer_type()
    stored = cuts.compute_and_store_features(
        extractor, tmp_path / "feats", num_jobs=1, storage_type=writer, progress_bar=False
    )
    cut = stored[0]
    assert cut.features.type == "kaldi-mfcc-hires"
    ref = extractor.extract(rec.resample(16000).load_audio()[0], 16000)
    assert np.abs(ref[:10] - direct_knf(rec.resample(16000).load_audio()[0])[:10]).max() < 1e-4
    back = CutSet.from_dicts([c.to_dict() for c in stored])[0].load_features()
    assert back.shape == ref.shape
    # lilcom keeps ~3 significant bits per value below the per-row range; numpy is exact
    tol = 1e-5 if writer is NumpyFilesWriter else 0.05 * np.abs(ref).max()
    assert np.abs(back - ref).max() < tol


def test_global_cmvn_matches_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(3, 2, (50, 40)), rng.normal(-1, 0.5, (70, 40))
    cmvn = GlobalCmvn(40)
    cmvn.accumulate(a)
    cmvn.accumulate(b)
    cmvn.save(tmp_path / "cmvn.json")
    back = GlobalCmvn.load(tmp_path / "cmvn.json")
    both = np.concatenate([a, b])
    assert back.count == 120
    np.testing.assert_allclose(back.mean, both.mean(0), rtol=1e-10)
    np.testing.assert_allclose(back.std, both.std(0), rtol=1e-8)
    norm = back.normalize(both)
    np.testing.assert_allclose(norm.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(norm.std(0), 1, atol=1e-5)


def test_cmvn_over_stored_features_in_parallel_jobs(tmp_path: Path) -> None:
    """accumulate_cmvn with 2 jobs = 1 job = numpy over the loaded matrices."""
    from asr2emo.features.make import accumulate_cmvn

    urdu = sorted((DATA / "urdu" / "Angry").glob("*.wav"))[:5]
    cuts = CutSet.from_manifests(recordings=[Recording.from_file(p) for p in urdu]).resample(16000)
    stored = cuts.compute_and_store_features(
        KaldiMfccHires(), tmp_path / "feats", num_jobs=1, progress_bar=False
    )
    frames = np.concatenate([c.load_features() for c in stored]).astype(np.float64)
    one, two = accumulate_cmvn(stored, 40, nj=1), accumulate_cmvn(stored, 40, nj=2)
    assert one.count == two.count == frames.shape[0]
    np.testing.assert_allclose(one.mean, frames.mean(0), rtol=1e-10)
    np.testing.assert_allclose(two.mean, one.mean, rtol=1e-12)
    np.testing.assert_allclose(two.std, one.std, rtol=1e-10)
