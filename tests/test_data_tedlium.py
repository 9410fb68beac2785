"""TED-LIUM preparation through lhotse's recipe, on fixtures in the real .sph/.stm format."""

from __future__ import annotations

from pathlib import Path

import pytest
from lhotse import RecordingSet, SupervisionSet

from asr2emo.cli import main as cli_main
from asr2emo.data.tedlium import check_stm, prepare_tedlium
from asr2emo.utils.errors import UserError
from conftest import write_tone


def stm_line(talk: str, start: float, end: float, text: str, gender: str = "male") -> str:
    return f"{talk} 1 {talk} {start:.2f} {end:.2f} <o,f0,{gender}> {text}\n"


def make_corpus(root: Path) -> Path:
    for part in ("train", "dev", "test"):
        for i in range(2):
            talk = f"Speaker{part.capitalize()}{i}_2010"
            write_tone(root / part / "sph" / f"{talk}.sph", 6.0, fmt="NIST", seed=i)
            lines = stm_line(talk, 0.00, 1.50, "hello world") + stm_line(
                talk, 1.80, 3.20, "this is a talk"
            )
            if part == "train" and i == 0:
                # overlapping segment and a non-speech segment, both as in the real corpus
                lines += stm_line(talk, 3.00, 4.50, "overlapping words here")
                lines += stm_line(talk, 4.60, 5.90, "ignore_time_segment_in_scoring")
            (root / part / "stm").mkdir(parents=True, exist_ok=True)
            (root / part / "stm" / f"{talk}.stm").write_text(lines)
    (root / "TEDLIUM.152k.dic").write_text("hello HH AH L OW\nworld W ER L D\n")
    return root


def test_prepare_tedlium_real_format(tmp_path):
    root = make_corpus(tmp_path / "TEDLIUM_release2")
    manifests, skipped = prepare_tedlium(root, tmp_path / "manifests")
    assert not skipped
    train = manifests["train"]
    sups = list(train["supervisions"])
    assert len(train["recordings"]) == 2
    # ignore_time_segment_in_scoring is not speech: 2 + 1 + 2 segments remain
    assert len(sups) == 5
    assert all("ignore_time_segment" not in s.text for s in sups)
    over = [s for s in sups if s.text == "overlapping words here"][0]
    assert over.start == pytest.approx(3.0) and over.duration == pytest.approx(1.5)
    # recordings point at the real corpus files, not at the temporary view
    rec = RecordingSet.from_file(
        tmp_path / "manifests" / "tedlium2_recordings_train.jsonl.gz"
    ).to_eager()
    src = Path(rec[over.recording_id].sources[0].source)
    assert src.is_file() and src.parent == (root / "train" / "sph").resolve()
    assert rec[over.recording_id].load_audio().shape == (1, 6 * 16000)
    sup = SupervisionSet.from_file(tmp_path / "manifests" / "tedlium2_supervisions_dev.jsonl.gz")
    assert len(sup) == 4


def test_bad_talks_are_skipped_and_named(tmp_path):
    root = make_corpus(tmp_path / "TEDLIUM_release2")
    (root / "train" / "sph" / "Orphan_2011.sph").write_bytes(b"NIST_1A\nnot really")
    (root / "train" / "stm" / "Orphan_2011.stm").write_text(stm_line("Orphan_2011", 0, 1, "hi"))
    (root / "dev" / "stm" / "NoAudio_2012.stm").write_text(stm_line("NoAudio_2012", 0, 1, "hi"))
    bad_stm = root / "test" / "stm" / "SpeakerTest1_2010.stm"
    bad_stm.write_text(bad_stm.read_text() + "SpeakerTest1_2010 1 short\n")
    manifests, skipped = prepare_tedlium(root, None)
    assert "Orphan_2011.sph" in skipped["bad .sph"][0]
    assert skipped["no .sph for .stm"][0].endswith("NoAudio_2012.stm")
    assert "fewer than 6 fields" in skipped["malformed .stm"][0]
    assert len(manifests["train"]["recordings"]) == 2
    assert len(manifests["test"]["recordings"]) == 1


def test_check_stm_messages(tmp_path):
    p = tmp_path / "T_1.stm"
    p.write_text(stm_line("T_1", 2.0, 1.0, "backwards"))
    assert "before start" in check_stm(p)
    p.write_text(stm_line("Other_1", 0.0, 1.0, "wrong id"))
    assert "differs from the file name" in check_stm(p)


def test_layout_errors(tmp_path):
    with pytest.raises(UserError, match="expected TEDLIUM_release2 layout"):
        prepare_tedlium(tmp_path / "missing")
    (tmp_path / "t" / "train" / "sph").mkdir(parents=True)
    with pytest.raises(UserError, match="train/stm"):
        prepare_tedlium(tmp_path / "t")


def test_cli_rerun_is_noop(tmp_path):
    root = make_corpus(tmp_path / "TEDLIUM_release2")
    out = tmp_path / "manifests"
    assert cli_main(["prepare-tedlium", str(root), str(out)]) == 0
    mtime = (out / "tedlium2_recordings_train.jsonl.gz").stat().st_mtime_ns
    assert cli_main(["prepare-tedlium", str(root), str(out)]) == 0
    assert (out / "tedlium2_recordings_train.jsonl.gz").stat().st_mtime_ns == mtime
    assert "nothing to do" in (out / "log" / "prepare_tedlium.log").read_text()
