"""asr2emo transcribe: one JSON line per input (errors included, never stopping at a bad file),
exit status 1 when any failed, and long files decoded in bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from asr2emo.data.long_audio import silence_segments
from conftest import REPO, YESNO

PEAK_RSS = """
import resource, sys
from asr2emo.cli import main
rc = main(sys.argv[1:])
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(rc)
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PEAK_RSS, "transcribe", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
    )


def _long_wav(path: Path, seconds: float) -> Path:
    """yes/no test files end to end (real speech with pauses), repeated to ``seconds``."""
    parts = [sf.read(str(f), dtype="float32")[0] for f in sorted(YESNO.glob("*.wav"))[1::2]]
    one = np.concatenate(parts)
    reps = int(np.ceil(seconds * 8000 / len(one)))
    sf.write(str(path), np.tile(one, reps)[: int(seconds * 8000)], 8000, subtype="PCM_16")
    return path


def test_bad_files_get_an_error_line_and_the_good_ones_their_text(yesno_tdnnf, tmp_path):
    good = sorted(YESNO.glob("*.wav"))[1]  # a test-half file: eight words
    short = tmp_path / "short.wav"
    sf.write(str(short), np.zeros(200, dtype=np.float32), 16000)  # 12.5 ms < one 25 ms frame
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.float32), 16000)  # a header, no samples
    text = tmp_path / "notes.wav"
    text.write_text("not audio\n" * 20)
    inputs = [good, short, empty, tmp_path / "missing.wav", text, tmp_path, good]
    r = _run(str(yesno_tdnnf), *map(str, inputs))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["path"] for x in lines] == [str(p) for p in inputs]
    for i in (0, 6):
        words = lines[i]["text"].split()
        assert "error" not in lines[i] and len(words) >= 6 and set(words) <= {"YES", "NO"}
    errors = [x.get("error", "") for x in lines[1:6]]
    assert "too short" in errors[0]
    assert "no samples" in errors[1]
    assert errors[2] == "no such file"
    assert "not an audio file" in errors[3] and "Format not recognised" in errors[3]
    assert "is a directory" in errors[4]
    assert "5 of 7 file(s) failed" in r.stderr


def test_segments_cover_a_long_file_exactly(tmp_path):
    wav = _long_wav(tmp_path / "long.wav", 95.0)
    segs = list(silence_segments(wav, target_seconds=30.0, search_seconds=3.0))
    assert len(segs) == 3
    x, _ = sf.read(str(wav), dtype="float32")
    np.testing.assert_array_equal(np.concatenate([s.samples for s in segs]), x)
    assert all(27.0 <= s.duration <= 33.0 for s in segs[:-1])
    ends = np.cumsum([s.duration for s in segs])
    np.testing.assert_allclose([s.start for s in segs], np.concatenate([[0.0], ends[:-1]]))


def test_ten_minutes_decode_in_the_memory_of_one(yesno_tdnnf, tmp_path):
    one = _long_wav(tmp_path / "one.wav", 60.0)
    ten = _long_wav(tmp_path / "ten.wav", 600.0)
    rss = {}
    for name, wav in (("one", one), ("ten", ten)):
        r = _run(str(yesno_tdnnf), str(wav))
        assert r.returncode == 0, r.stderr[-3000:]
        rec = json.loads(r.stdout)
        assert rec["segments"] >= (2 if name == "one" else 20)
        rss[name] = int(r.stderr.split("PEAK_RSS_KB")[1].split()[0])
    print(f"peak RSS: 1 min {rss['one'] / 1024:.0f} MB, 10 min {rss['ten'] / 1024:.0f} MB")
    assert rss["ten"] <= 1.5 * rss["one"], rss
