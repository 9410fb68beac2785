"""Stages 2-3 on a tiny real-speech manifest: make_mfcc.sh -> train_ivector_extractor.sh ->
extract_ivectors.sh; outputs, reruns as no-ops, i-vectors readable through lhotse."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet, load_manifest

from asr2emo.features.storage import have_lilcom
from asr2emo.ivector import IvectorExtractor

ROOT = Path(__file__).resolve().parents[1]
URDU = ROOT / ".." / "shared" / "data" / "urdu"
SPEAKERS = ("SM1", "SF1", "SM2")

pytestmark = pytest.mark.skipif(not URDU.is_dir(), reason="../shared/data is not available")


def run(*cmd: str) -> subprocess.CompletedProcess:
    res = subprocess.run(list(cmd), cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return res


def test_ivector_steps(tmp_path: Path) -> None:
    manifests, mfcc, ivdir = tmp_path / "manifests", tmp_path / "mfcc", tmp_path / "ivector"
    manifests.mkdir()
    recs, sups = [], []
    for spk in SPEAKERS:
        for wav in sorted(URDU.glob(f"*/{spk}_*.wav"))[:3]:
            rec = Recording.from_file(wav)
            recs.append(rec)
            sups.append(
                SupervisionSegment(
                    id=rec.id, recording_id=rec.id, start=0, duration=rec.duration, speaker=spk
                )
            )
    RecordingSet.from_recordings(recs).to_file(manifests / "tiny_recordings_all.jsonl.gz")
    SupervisionSet.from_segments(sups).to_file(manifests / "tiny_supervisions_all.jsonl.gz")

    run(
        "steps/make_mfcc.sh",
        "--config",
        "conf/mini/mfcc_hires.conf",
        str(manifests),
        "tiny",
        str(mfcc),
    )
    cuts_path = mfcc / "tiny_cuts_all.jsonl.gz"
    assert (mfcc / "tiny_cmvn.json").is_file()

    # a tiny extractor: conf/mini/ivector.conf with a few keys overridden, Kaldi-style
    conf = tmp_path / "ivector.conf"
    conf.write_text(
        (ROOT / "conf" / "mini" / "ivector.conf").read_text()
        + "--num-gauss=8\n--ivector-dim=6\n--num-iters=3\n--num-iters-ubm=3\n"
    )
    run(
        "steps/train_ivector_extractor.sh",
        "--config",
        str(conf),
        str(cuts_path),
        str(ivdir),
    )
    assert (ivdir / ".done").is_file()
    obj = json.loads((ivdir / "log" / "objective.json").read_text())
    assert len(obj["tv"]) == 4 and obj["train"]["num_gauss"] == 8
    assert "T-matrix iteration 2" in (ivdir / "log" / "train_ivector_extractor.log").read_text()
    extractor = IvectorExtractor.load(ivdir)
    assert extractor.T.shape == (8, 40, 6)

    out = mfcc / "tiny_cuts_all_ivec.jsonl.gz"
    run("steps/extract_ivectors.sh", "--nj", "2", str(ivdir), str(cuts_path), str(out))
    cuts = load_manifest(out)
    assert len(cuts) == len(recs)
    for cut in cuts:
        stored = cut.ivector.load()
        feats = cut.load_features()
        assert stored.shape == (-(-feats.shape[0] // 10), 6)
        assert cut.ivector.frame_shift == pytest.approx(0.1)
        ref = extractor.extract_online(feats)
        tol = 0.02 * np.abs(ref).max() if have_lilcom() else 1e-4  # lilcom is lossy
        np.testing.assert_allclose(stored, ref, rtol=1e-4, atol=tol)
        via_lhotse = cut.load_ivector()  # lhotse's custom-field path, trimmed to the duration
        assert abs(via_lhotse.shape[0] - stored.shape[0]) <= 1

    # reruns are no-ops
    mtime = out.stat().st_mtime_ns
    res = run(
        "steps/train_ivector_extractor.sh",
        "--config",
        str(conf),
        str(cuts_path),
        str(ivdir),
    )
    assert "nothing to do" in res.stderr
    res = run("steps/extract_ivectors.sh", str(ivdir), str(cuts_path), str(out))
    assert "nothing to do" in res.stderr and out.stat().st_mtime_ns == mtime


def test_extract_ivectors_needs_a_model(tmp_path: Path) -> None:
    res = subprocess.run(
        ["steps/extract_ivectors.sh", str(tmp_path), "in.jsonl.gz", "out.jsonl.gz"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 1 and "no i-vector extractor" in res.stderr
