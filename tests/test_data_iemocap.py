"""IEMOCAP parser on hand-written fixtures in the real EmoEvaluation format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lhotse import RecordingSet, SupervisionSet

from asr2emo.cli import main as cli_main
from asr2emo.data.iemocap import (
    count_table,
    format_protocols,
    format_table1,
    map_label,
    parse_emo_evaluation,
    parse_utt_id,
    prepare_iemocap,
)
from asr2emo.utils.errors import UserError
from conftest import write_tone

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"


def block(start: float, end: float, utt: str, label: str, vad=(2.5, 3.0, 3.5), sep="\t") -> str:
    v, a, d = vad
    return (
        f"[{start:.4f} - {end:.4f}]{sep}{utt}{sep}{label}{sep}[{v:.4f}, {a:.4f}, {d:.4f}]\n"
        "C-E2:\tNeutral;\t()\nC-E3:\tAnger;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n\n"
    )


def make_corpus(root: Path) -> Path:
    """5 sessions; session 1 carries the awkward cases, the others are clean."""
    for s in range(1, 6):
        sess = root / f"Session{s}"
        emo = sess / "dialog" / "EmoEvaluation"
        emo.mkdir(parents=True)
        dialog = f"Ses0{s}F_impro01"
        text = HEADER
        utts = [
            (f"{dialog}_F000", "ang"),
            (f"{dialog}_M000", "neu"),
            (f"{dialog}_F001", "sad"),
            (f"{dialog}_M001", "exc"),
            (f"{dialog}_F002", "hap"),
            (f"{dialog}_M002", "fru"),
            (f"{dialog}_F003", "xxx"),
        ]
        for i, (utt, label) in enumerate(utts):
            text += block(1.0 + 3 * i, 2.5 + 3 * i, utt, label)
            write_tone(sess / "sentences" / "wav" / dialog / f"{utt}.wav", 0.5 + 0.1 * i, seed=i)
        if s == 1:
            # stray whitespace (spaces instead of tabs, trailing blanks) must still parse
            text += "  [40.0000 -  41.5000]   Ses01F_impro01_M003   ang   [1.5, 4.0, 4.5]   \n\n"
            write_tone(sess / "sentences" / "wav" / dialog / "Ses01F_impro01_M003.wav", 0.7)
            # listed but no wav
            text += block(50.0, 51.0, "Ses01F_impro01_F004", "neu")
            # unknown label
            text += block(52.0, 53.0, "Ses01F_impro01_M004", "angry")
            # malformed line (missing V/A/D)
            text += "[54.0000 - 55.0000]\tSes01F_impro01_F005\tneu\n\n"
            # corrupt wav for a listed utterance
            text += block(56.0, 57.0, "Ses01F_impro01_M005", "sad")
            bad = sess / "sentences" / "wav" / dialog / "Ses01F_impro01_M005.wav"
            bad.write_bytes(b"RIFF\x00\x00garbage-not-a-wav")
            # wav that no EmoEvaluation file lists
            write_tone(sess / "sentences" / "wav" / dialog / "Ses01F_impro01_F099.wav", 0.4)
            # a scripted dialog in its own file
            sdialog = "Ses01M_script01_1"
            stext = HEADER + block(1.0, 2.0, f"{sdialog}_F000", "exc")
            write_tone(sess / "sentences" / "wav" / sdialog / f"{sdialog}_F000.wav", 0.6)
            (emo / f"{sdialog}.txt").write_text(stext)
        (emo / f"{dialog}.txt").write_text(text)
    return root


def test_parse_utt_id():
    assert parse_utt_id("Ses01F_impro01_M003") == (1, "Ses01F_impro01", "M", True)
    assert parse_utt_id("Ses05M_script01_1b_F012") == (5, "Ses05M_script01_1b", "F", False)
    assert parse_utt_id("Ses06F_impro01_F000") is None
    assert parse_utt_id("garbage") is None


def test_parse_emo_evaluation_lines(tmp_path):
    root = make_corpus(tmp_path / "IEMOCAP_full_release")
    path = root / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt"
    entries, bad = parse_emo_evaluation(path)
    by_id = {e.utt_id: e for e in entries}
    assert len(bad) == 1 and "Ses01F_impro01_F005" in bad[0] and ":" in bad[0]
    e = by_id["Ses01F_impro01_M003"]  # the stray-whitespace line
    assert (e.start, e.end, e.label) == (40.0, 41.5, "ang")
    assert (e.valence, e.arousal, e.dominance) == (1.5, 4.0, 4.5)
    assert e.speaker == "Ses01M" and e.gender == "M" and e.improvised
    assert by_id["Ses01F_impro01_M004"].label == "angry"


def test_label_mapping():
    classes = ("ang", "exc", "neu", "sad")
    assert map_label("hap", classes, merge_hap_into_exc=False) is None
    assert map_label("hap", classes, merge_hap_into_exc=True) == "exc"
    assert map_label("fru", classes, merge_hap_into_exc=True) is None
    assert map_label("sad", classes, merge_hap_into_exc=False) == "sad"


def test_prepare_iemocap_counts_and_skips(tmp_path):
    root = make_corpus(tmp_path / "IEMOCAP_full_release")
    recs, sups, report = prepare_iemocap(root, tmp_path / "manifests")
    # per session 4 kept (ang, neu, sad, exc); session 1 adds M003 (ang) and the script exc
    assert len(sups) == 5 * 4 + 2
    assert report.dropped_labels == {"hap": 5, "fru": 5, "xxx": 5}
    sk = report.skipped
    assert sk["listed utterance without wav"][0].startswith("Ses01F_impro01_F004")
    assert "'angry'" in sk["unknown emotion label"][0]
    assert len(sk["malformed EmoEvaluation line"]) == 1
    assert "Ses01F_impro01_M005.wav" in sk["bad audio"][0]
    assert sk["wav not listed in any EmoEvaluation file"][0].endswith("Ses01F_impro01_F099.wav")
    counts = count_table(sups)
    assert counts[(1, "ang")] == 2 and counts[(1, "exc")] == 2 and counts[(2, "sad")] == 1
    table = format_table1(counts, ("ang", "exc", "neu", "sad"))
    assert table.splitlines()[-1].split() == ["total", "6", "6", "5", "5", "22"]
    # both protocols side by side: the 5 hap utterances join exc under merged only
    assert report.protocol_totals() == {"paper": 22, "merged": 27}
    assert report.protocols["paper"] == counts
    both = format_protocols(report.protocols, ("ang", "exc", "neu", "sad"))
    assert both.splitlines()[0] == "protocols paper/merged:"
    assert both.splitlines()[-1].split() == ["total", "6/6", "6/11", "5/5", "5/5", "22/27"]
    assert both.splitlines()[3].split() == ["Ses2", "1/1", "1/2", "1/1", "1/1", "4/5"]
    s = sups["Ses01F_impro01_M003"]
    assert s.speaker == "Ses01M" and s.gender == "M"
    assert s.custom["emotion"] == "ang" and s.custom["session"] == 1
    assert s.custom["arousal"] == 4.0 and s.custom["improvised"] is True
    assert sups["Ses01M_script01_1_F000"].custom["improvised"] is False
    assert abs(s.duration - recs["Ses01F_impro01_M003"].duration) < 1e-9
    # written manifests round-trip and pass lhotse validation (done inside prepare)
    recs2 = RecordingSet.from_file(tmp_path / "manifests" / "iemocap_recordings_all.jsonl.gz")
    sups2 = SupervisionSet.from_file(tmp_path / "manifests" / "iemocap_supervisions_all.jsonl.gz")
    assert len(recs2) == len(recs) and len(sups2) == len(sups)


def test_merge_hap_into_exc(tmp_path):
    root = make_corpus(tmp_path / "IEMOCAP_full_release")
    _, sups, report = prepare_iemocap(root, None, merge_hap_into_exc=True)
    assert len(sups) == 5 * 5 + 2
    assert report.protocol_totals() == {"paper": 22, "merged": 27}
    assert sups["Ses02F_impro01_F002"].custom == {
        **sups["Ses02F_impro01_F002"].custom,
        "emotion": "exc",
        "raw_emotion": "hap",
    }
    assert "hap" not in report.dropped_labels


def test_missing_corpus_is_one_line_error(tmp_path):
    with pytest.raises(UserError, match="expected IEMOCAP_full_release layout"):
        prepare_iemocap(tmp_path / "nope")
    (tmp_path / "c" / "Session1").mkdir(parents=True)
    with pytest.raises(UserError, match="EmoEvaluation"):
        prepare_iemocap(tmp_path / "c")


def test_cli_rerun_is_noop(tmp_path, capsys, caplog):
    root = make_corpus(tmp_path / "IEMOCAP_full_release")
    out = tmp_path / "manifests"
    assert cli_main(["prepare-iemocap", str(root), str(out)]) == 0
    first = (out / "iemocap_supervisions_all.jsonl.gz").stat().st_mtime_ns
    assert cli_main(["prepare-iemocap", str(root), str(out)]) == 0
    assert (out / "iemocap_supervisions_all.jsonl.gz").stat().st_mtime_ns == first
    log = (out / "log" / "prepare_iemocap.log").read_text()
    assert "nothing to do" in log
    assert "skipped 1 (bad audio)" in log and "Ses01F_impro01_M005.wav" in log
    assert "protocols paper/merged:" in log
    protocols = json.loads((out / "iemocap_protocols.json").read_text())
    assert protocols["in_use"] == "paper" and protocols["totals"] == {"paper": 22, "merged": 27}
    assert protocols["counts"]["merged"]["2"] == {"ang": 1, "exc": 2, "neu": 1, "sad": 1}
    from asr2emo.report.render import label_map_line

    line = label_map_line(out)
    assert line.startswith("Label map: paper") and "22 under paper, 27 under merged" in line
    # another label set is another preparation
    assert cli_main(["prepare-iemocap", "--label-map=merged", str(root), str(out)]) == 0
    sups = SupervisionSet.from_file(out / "iemocap_supervisions_all.jsonl.gz")
    assert len(sups) == 27
    # a missing corpus: one error line, exit 1
    assert cli_main(["prepare-iemocap", str(tmp_path / "missing"), str(out)]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "does not exist" in errors[0] and "Traceback" not in err
