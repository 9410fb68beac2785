"""steps/make_mfcc.sh end to end on a tiny real-speech manifest, with a corrupt wav among it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lhotse import (
    AudioSource,
    Recording,
    RecordingSet,
    SupervisionSegment,
    SupervisionSet,
    load_manifest,
)

from asr2emo.features.cmvn import GlobalCmvn

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
WAVS = [
    DATA / "urdu" / "Angry" / "SM1_F10_A010.wav",
    (
        DATA / "urdu" / "Sad" / sorted(os.listdir(DATA / "urdu" / "Sad"))[0]
        if (DATA / "urdu" / "Sad").is_dir()
        else DATA
    ),
    DATA / "yesno" / "waves_yesno" / "0_0_0_1_0_1_1_0.wav",
]
DEV_WAV = DATA / "yesno" / "waves_yesno" / "1_1_1_1_1_1_1_1.wav"

pytestmark = pytest.mark.skipif(not WAVS[0].is_file(), reason="../shared/data is not available")


def write_part(manifests: Path, part: str, recordings: list) -> None:
    sups = [
        SupervisionSegment(id=f"{r.id}-0", recording_id=r.id, start=0, duration=r.duration)
        for r in recordings
    ]
    RecordingSet.from_recordings(recordings).to_file(manifests / f"tiny_recordings_{part}.jsonl.gz")
    SupervisionSet.from_segments(sups).to_file(manifests / f"tiny_supervisions_{part}.jsonl.gz")


def run_step(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["steps/make_mfcc.sh", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_make_mfcc_step(tmp_path: Path) -> None:
    manifests, mfcc = tmp_path / "manifests", tmp_path / "mfcc"
    manifests.mkdir()
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(30000))
    corrupt = Recording(
        id="corrupt",
        sources=[AudioSource(type="file", channels=[0], source=str(bad))],
        sampling_rate=16000,
        num_samples=16000,
        duration=1.0,
    )
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(800, dtype=np.float32), 16000)  # 0.05 s < --min-duration 0.1
    train = [Recording.from_file(w) for w in WAVS] + [corrupt, Recording.from_file(short)]
    write_part(manifests, "train", train)
    write_part(manifests, "dev", [Recording.from_file(DEV_WAV)])

    args = ["--nj", "2", "--config", "conf/mini/mfcc_hires.conf", "--speed-perturb", "true"]
    res = run_step(*args, str(manifests), "tiny", str(mfcc))
    assert res.returncode == 0, res.stderr

    train_cuts = load_manifest(mfcc / "tiny_cuts_train.jsonl.gz")
    dev_cuts = load_manifest(mfcc / "tiny_cuts_dev.jsonl.gz")
    ids = sorted(c.id for c in train_cuts)
    assert len(ids) == 3 * 3  # 3 good recordings x speeds 1.0, 0.9, 1.1; the corrupt one is gone
    assert (
        sum(i.endswith("_sp0.9") for i in ids) == 3 and sum(i.endswith("_sp1.1") for i in ids) == 3
    )
    assert not any("corrupt" in i or "short" in i for i in ids)
    assert len(dev_cuts) == 1
    for cut in list(train_cuts) + list(dev_cuts):
        assert cut.sampling_rate == 16000 and cut.num_features == 40
        feats = cut.load_features()
        assert feats.shape == (cut.num_frames, 40) and np.isfinite(feats).all()
    # speed 0.9 makes the cut 1/0.9 times longer
    base = next(c for c in train_cuts if c.id.startswith("SM1_F10") and "_sp" not in c.id)
    slow = next(c for c in train_cuts if c.id.startswith("SM1_F10") and c.id.endswith("_sp0.9"))
    assert abs(slow.duration - base.duration / 0.9) < 0.01

    skipped = (mfcc / "log" / "tiny_train_skipped.txt").read_text().splitlines()
    assert len(skipped) == 2
    assert skipped[0].startswith("corrupt\tunreadable audio")
    assert skipped[1].startswith("short-0\tshorter than --min-duration")
    assert "skipped 2 item" in res.stderr

    cmvn = GlobalCmvn.load(mfcc / "tiny_cmvn.json")
    frames = np.concatenate([c.load_features() for c in train_cuts])
    assert cmvn.count == len(frames)
    np.testing.assert_allclose(cmvn.mean, frames.mean(0), rtol=1e-5, atol=1e-4)

    # rerun: a no-op that says so
    mtime = (mfcc / "tiny_cuts_train.jsonl.gz").stat().st_mtime_ns
    res = run_step(*args, str(manifests), "tiny", str(mfcc))
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("nothing to do") == 2
    assert (mfcc / "tiny_cuts_train.jsonl.gz").stat().st_mtime_ns == mtime

    # a part killed mid-way (no .done, leftovers) is redone cleanly; the finished part is kept
    (mfcc / "tiny_feats_dev" / ".done").unlink()
    (mfcc / "tiny_feats_dev" / "junk").write_text("partial")
    res = run_step(*args, str(manifests), "tiny", str(mfcc))
    assert res.returncode == 0, res.stderr
    assert not (mfcc / "tiny_feats_dev" / "junk").exists()
    assert (mfcc / "tiny_feats_dev" / ".done").is_file()
    assert (mfcc / "tiny_cuts_train.jsonl.gz").stat().st_mtime_ns == mtime
    assert len(load_manifest(mfcc / "tiny_cuts_dev.jsonl.gz")) == 1

    # another MFCC option in the conf: both parts are recomputed, and the log says why
    conf = tmp_path / "mfcc.conf"
    conf.write_text(Path("conf/mini/mfcc_hires.conf").read_text() + "--low-freq=40\n")
    res = run_step("--nj", "2", "--config", str(conf), "--speed-perturb", "true",
                   str(manifests), "tiny", str(mfcc))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("recomputing: --low-freq 20.0 -> 40.0") == 2, res.stderr
    assert (mfcc / "tiny_cuts_train.jsonl.gz").stat().st_mtime_ns != mtime
    # a changed manifest (a recording added to dev) recomputes that part only
    mtime = (mfcc / "tiny_cuts_train.jsonl.gz").stat().st_mtime_ns
    write_part(manifests, "dev", [Recording.from_file(DEV_WAV), Recording.from_file(WAVS[0])])
    res = run_step("--nj", "2", "--config", str(conf), "--speed-perturb", "true",
                   str(manifests), "tiny", str(mfcc))  # fmt: skip
    assert "tiny dev MFCC" in res.stderr and "recomputing: input recordings" in res.stderr
    assert (mfcc / "tiny_cuts_train.jsonl.gz").stat().st_mtime_ns == mtime
    assert len(load_manifest(mfcc / "tiny_cuts_dev.jsonl.gz")) == 2


def test_make_mfcc_usage_errors(tmp_path: Path) -> None:
    res = run_step(str(tmp_path), "tiny")
    assert res.returncode != 0 and "Usage" in res.stderr
    res = run_step(str(tmp_path), "tiny", str(tmp_path / "mfcc"))
    assert res.returncode == 1
    assert "no 'tiny_recordings_<part>.jsonl.gz'" in res.stderr
    assert "Traceback" not in res.stderr
