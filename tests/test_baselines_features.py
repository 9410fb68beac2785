"""Baseline features: eGeMAPS on real audio, MFCC statistics, the per-utterance cache."""

import numpy as np
import pytest
import soundfile as sf
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

from asr2emo.baselines import features as F
from asr2emo.baselines.utterances import table_from_manifests
from asr2emo.features.mfcc import compute_mfcc


def _urdu_file(shared_data):
    files = sorted((shared_data / "urdu" / "Angry").glob("*.wav"))
    if not files:
        pytest.skip("no urdu wavs")
    return files[0]


def test_egemaps_88_functionals_on_real_urdu_file(shared_data):
    path = _urdu_file(shared_data)
    x, sr = sf.read(str(path), dtype="float32")
    assert sr == 44100
    v = F.egemaps_functionals(F.egemaps_extractor(), x, sr)
    assert v.shape == (F.NUM_EGEMAPS,) == (88,)
    assert np.isfinite(v).all()
    # first functional: mean F0 in semitones from 27.5 Hz; speech F0 80-400 Hz -> 19..46 st
    assert 19 < v[0] < 46
    # loudness/level functionals differ between the signal and a 10x quieter copy
    q = F.egemaps_functionals(F.egemaps_extractor(), x * 0.1, sr)
    assert not np.allclose(v, q)


def test_mfcc_statistics_are_mean_then_std():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(50, 40)) * 3 + 1
    s = F.mfcc_statistics(m)
    assert s.shape == (80,)
    np.testing.assert_allclose(s[:40], m.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(s[40:], np.sqrt(((m - m.mean(0)) ** 2).mean(0)), rtol=1e-5)


def _table(shared_data, n=3):
    files = sorted((shared_data / "urdu" / "Angry").glob("*.wav"))[:n]
    recs, sups = [], []
    for i, f in enumerate(files):
        r = Recording.from_file(str(f))
        recs.append(r)
        sups.append(
            SupervisionSegment(
                id=r.id,
                recording_id=r.id,
                start=0.0,
                duration=r.duration,
                speaker=f"S{i % 2}",
                custom={"emotion": "angry", "session": i % 2 + 1},
            )
        )
    return table_from_manifests(
        RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups)
    )


def test_cache_is_keyed_by_utterance_and_reused(shared_data, tmp_path, monkeypatch):
    table = _table(shared_data)
    out = F.compute_features(table, ["mfcc_stats"], tmp_path)
    assert out["mfcc_stats"].shape == (3, 80)
    # independent reference: the stage-2 MFCC function on the file at 16 kHz
    x, sr = sf.read(str(table.recordings[table.ids[1]].sources[0].source), dtype="float32")
    ref = F.mfcc_statistics(compute_mfcc(x, sr))
    np.testing.assert_allclose(out["mfcc_stats"][1], ref, rtol=1e-4, atol=1e-4)
    with np.load(tmp_path / "mfcc_stats.npz") as z:
        assert sorted(z["ids"].tolist()) == sorted(table.ids)

    def boom(*a, **k):
        raise AssertionError("recomputed a cached utterance")

    monkeypatch.setattr(F, "compute_mfcc", boom)
    again = F.compute_features(table.subset(table.ids[::-1][:2]), ["mfcc_stats"], tmp_path)
    np.testing.assert_array_equal(again["mfcc_stats"], out["mfcc_stats"][[1, 2]])  # manifest order
