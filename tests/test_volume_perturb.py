"""Volume perturbation of the training cuts (Kaldi utils/data/perturb_data_dir_volume.sh): one
factor per cut in [0.125, 2], a function of the cut id and a seed, applied before the MFCC."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import numpy as np
import pytest
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet, load_manifest

from asr2emo.bin.compute_mfcc import get_parser
from asr2emo.features.make import PartReport, make_part_cuts
from asr2emo.features.mfcc import KaldiMfccHires, KaldiMfccHiresConfig
from asr2emo.features.volume import VolumePerturbConfig, volume_factor
from asr2emo.utils.errors import UserError
from conftest import REPO, write_tone

KALDI = VolumePerturbConfig(volume_perturb=True)  # --scale-low=0.125 --scale-high=2


def test_factor_is_uniform_in_kaldis_range_and_a_function_of_id_and_seed():
    ids = [
        f"talk{t:03d}-{s:04d}{sp}" for t in range(20) for s in range(50) for sp in ("", "_sp0.9")
    ]
    factors = {i: volume_factor(i, 0.125, 2.0) for i in ids}
    assert all(0.125 <= f < 2.0 for f in factors.values())
    # any order (or job split) gives each id the same factor
    assert {i: volume_factor(i, 0.125, 2.0) for i in reversed(ids)} == factors
    # by hand: the first 8 bytes of sha256("<seed>\t<id>") as a fraction of 2^64
    u = int.from_bytes(hashlib.sha256(b"0\ttalk000-0000").digest()[:8], "big") / 2**64
    assert factors["talk000-0000"] == 0.125 + 1.875 * u
    # uniform: 2000 factors have mean (0.125 + 2) / 2 and a tenth in each tenth of the range
    values = np.array(list(factors.values()))
    assert abs(values.mean() - 1.0625) < 0.03
    counts = np.histogram(values, bins=10, range=(0.125, 2.0))[0]
    assert counts.min() > 150 and counts.max() < 250
    # another seed, other factors; speed copies have their own
    assert volume_factor("talk000-0000", 0.125, 2.0, seed=1) != factors["talk000-0000"]
    assert factors["talk000-0000_sp0.9"] != factors["talk000-0000"]


def test_bad_range_is_one_user_error():
    with pytest.raises(UserError, match="0 < --volume-low <= --volume-high"):
        VolumePerturbConfig(volume_perturb=True, volume_low=2.0, volume_high=1.0)


def _manifests(tmp_path: Path):
    recs, sups = [], []
    for k, seconds in enumerate((0.8, 1.1)):
        rec = Recording.from_file(write_tone(tmp_path / f"r{k}.wav", seconds, seed=k))
        recs.append(rec)
        sups.append(
            SupervisionSegment(id=f"r{k}-0", recording_id=rec.id, start=0, duration=seconds)
        )
    return RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups)


def test_features_are_the_mfcc_of_the_scaled_waveform(tmp_path):
    recs, sups = _manifests(tmp_path)
    plain = make_part_cuts(recs, sups, 16000, 0.1, True, PartReport("train"), 1)
    loud = make_part_cuts(recs, sups, 16000, 0.1, True, PartReport("train"), 1, volume=KALDI)
    assert [c.id for c in loud] == [c.id for c in plain]  # ids kept
    assert len(loud) == 6  # 2 cuts x speeds 1.0, 0.9, 1.1, each its own factor
    mfcc = KaldiMfccHires(KaldiMfccHiresConfig())
    seen = set()
    for p, v in zip(plain, loud):
        factor = volume_factor(p.id, 0.125, 2.0)
        seen.add(round(factor, 6))
        scaled = p.load_audio() * factor
        np.testing.assert_array_equal(v.load_audio(), scaled)
        want = mfcc.extract(scaled, 16000)
        np.testing.assert_array_equal(v.compute_features(mfcc), want)
        # and c0 moves by sqrt(1/40) * 40 * log(factor^2) (Kaldi DCT row 0, power ~ factor^2)
        c0 = want[:, 0] - mfcc.extract(p.load_audio(), 16000)[:, 0]
        np.testing.assert_allclose(c0, 2 * np.sqrt(40) * np.log(factor), rtol=0, atol=0.05)
    assert len(seen) == 6


def test_make_mfcc_applies_it_to_the_perturbed_train_part_only(tmp_path):
    """conf/mfcc_hires.conf has it on, conf/mini/mfcc_hires.conf off; the mini conf turned on
    (no dither, so features are reproducible) through steps/make_mfcc.sh with --speed-perturb
    true and 2 jobs: train cuts scaled by their factors (stored features), dev untouched, and
    the mini conf as it is (off) recomputes train only, saying why."""
    man, fb = tmp_path / "man", tmp_path / "fbank"
    man.mkdir()
    recs, sups = _manifests(tmp_path)
    recs.to_file(man / "tiny_recordings_train.jsonl.gz")
    sups.to_file(man / "tiny_supervisions_train.jsonl.gz")
    recs.subset(first=1).to_file(man / "tiny_recordings_dev.jsonl.gz")
    sups.subset(first=1).to_file(man / "tiny_supervisions_dev.jsonl.gz")

    def step(conf: Path, out: Path) -> str:
        r = subprocess.run(
            ["steps/make_mfcc.sh", "--nj", "2", "--config", str(conf), "--speed-perturb", "true",
             str(man), "tiny", str(out)],
            cwd=REPO, capture_output=True, text=True,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        return r.stderr

    paper = get_parser().parse_args(
        ["--config", str(REPO / "conf" / "mfcc_hires.conf"), "m", "c", "f"]
    )
    assert paper.volume_perturb and (paper.volume_low, paper.volume_high) == (0.125, 2.0)
    mini = REPO / "conf" / "mini" / "mfcc_hires.conf"
    assert not get_parser().parse_args(["--config", str(mini), "m", "c", "f"]).volume_perturb
    conf = tmp_path / "on.conf"
    conf.write_text(mini.read_text().replace("--volume-perturb=false", "--volume-perturb=true"))
    args = get_parser().parse_args(["--config", str(conf), "m", "c", "f"])
    assert args.volume_perturb and (args.volume_low, args.volume_high) == (0.125, 2.0)
    log = step(conf, fb)
    assert "volume x U[0.125, 2.0]" in log
    mfcc = KaldiMfccHires(KaldiMfccHiresConfig())
    train = load_manifest(fb / "tiny_cuts_train.jsonl.gz")
    assert len(train) == 6
    for cut in train:
        factor = volume_factor(cut.id, 0.125, 2.0)
        [t] = cut.recording.transforms[-1:]
        assert type(t).__name__ == "Volume" and t.factor == factor
        # stored (lilcom, lossy) features of the cut = MFCC of its waveform times the factor
        audio = cut.load_audio()
        np.testing.assert_allclose(cut.load_features(), mfcc.extract(audio, 16000), atol=0.05)
    [dev] = load_manifest(fb / "tiny_cuts_dev.jsonl.gz")
    assert dev.recording.transforms is None or not dev.recording.transforms

    log = step(mini, fb)
    assert log.count('recomputing: --volume-high 2.0 -> "<unset>"') == 1, log
    assert log.count("nothing to do") == 1  # dev
    plain = {c.id: c for c in load_manifest(fb / "tiny_cuts_train.jsonl.gz")}
    for cut in train:
        factor = volume_factor(cut.id, 0.125, 2.0)
        np.testing.assert_allclose(
            plain[cut.id].load_audio() * factor, cut.load_audio(), rtol=1e-6, atol=0
        )
