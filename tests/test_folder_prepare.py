"""Folder-layout emotion corpora: manifests, speaker groups, folds without speaker overlap."""

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr2emo.cli import main as cli_main
from asr2emo.data.folder import prepare_folder, speaker_groups
from asr2emo.emotion.folds import make_folds
from asr2emo.utils.errors import UserError
from conftest import SHARED_DATA, write_tone

URDU = SHARED_DATA / "urdu"
URDU_REGEX = r"^(?P<speaker>S(?P<gender>[MF])\d+)_"


def _folds_have_no_speaker_overlap(sups):
    sessions = [s.custom["session"] for s in sups]
    speakers = [s.speaker for s in sups]
    spk = np.array(speakers)
    folds = make_folds(sessions, speakers, seed=1)
    for f in folds:
        tr, va, te = (set(spk[i]) for i in (f.train, f.val, f.test))
        assert not (tr & va) and not (tr & te) and not (va & te)
    return folds


@pytest.mark.skipif(not URDU.is_dir(), reason="../shared/data/urdu not available")
def test_urdu_five_groups(tmp_path):
    recs, sups, skipped = prepare_folder(URDU, URDU_REGEX, 5, 1, tmp_path, "urdu")
    assert skipped == {}
    assert len(recs) == len(sups) == len(list(URDU.glob("*/*.wav"))) == 400
    assert {s.custom["emotion"] for s in sups} == {"angry", "happy", "neutral", "sad"}
    by_spk = defaultdict(set)
    for s in sups:
        by_spk[s.speaker].add(s.custom["session"])
        assert s.gender == s.speaker[1]
        assert s.recording_id.split("_", 1)[1].startswith(s.speaker + "_")
    # the README says 38 speakers; the file names hold 29 distinct speaker ids
    assert set(by_spk) == {f.name.split("_")[0] for f in URDU.glob("*/*.wav")}
    assert all(len(g) == 1 for g in by_spk.values())  # a speaker is in exactly one group
    assert {s.custom["session"] for s in sups} == {1, 2, 3, 4, 5}
    assert {r.sampling_rate for r in recs} == {44100}
    assert len(_folds_have_no_speaker_overlap(sups)) == 5
    assert (tmp_path / "urdu_supervisions_all.jsonl.gz").is_file()
    assert (tmp_path / "urdu_recordings_all.jsonl.gz").is_file()


def test_groups_balanced_and_one_per_speaker():
    counts = {"a": 80, "b": 40, "c": 40, "d": 10, "e": 10, "f": 5}
    g = speaker_groups(counts, 2, seed=0)
    load = Counter()
    for s, k in g.items():
        load[k] += counts[s]
    # greedy: a->1, b->2, c->2, d->1 (tie: lowest), e->2, f->1
    assert sorted(load.values()) == [90, 95]
    assert speaker_groups(counts, 2, seed=0) == g
    assert speaker_groups(counts, 0, seed=0) == {s: i + 1 for i, s in enumerate(sorted(counts))}
    with pytest.raises(UserError):
        speaker_groups(counts, 7, seed=0)


def test_small_corpus_skips_and_any_rate(tmp_path):
    root = tmp_path / "corpus"
    for i, spk in enumerate(["A01", "A02", "B03"]):
        write_tone(root / "Angry" / f"{spk}_x{i}.wav", 0.5, sr=8000, seed=i)
        write_tone(root / "Sad" / f"{spk}_y{i}.wav", 0.5, sr=16000, seed=i)
    x = np.zeros((22050, 2), dtype=np.float32)
    sf.write(str(root / "Sad" / "B03_stereo.flac"), x, 44100)
    (root / "Sad" / "A01_broken.wav").write_bytes(b"RIFF....not audio")
    write_tone(root / "Sad" / "nospeaker.wav", 0.5)
    (root / "README.txt").write_text("ignored")
    recs, sups, skipped = prepare_folder(root, r"^([AB]\d+)_", 0, 1)
    assert len(sups) == 7
    assert skipped.keys() == {"speaker regex does not match the file name", "unreadable audio"}
    assert sorted({s.custom["session"] for s in sups}) == [1, 2, 3]
    assert {s.custom["emotion"] for s in sups} == {"angry", "sad"}
    assert all(s.gender is None for s in sups)
    _folds_have_no_speaker_overlap(sups)


def test_cli_errors(tmp_path, capsys):
    assert (
        cli_main(
            [
                "prepare-folder",
                str(tmp_path / "missing"),
                str(tmp_path / "out"),
                "--speaker-regex",
                "x",
            ]
        )
        == 1
    )
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty" / "Angry").mkdir(parents=True)
    assert (
        cli_main(
            [
                "prepare-folder",
                str(tmp_path / "empty"),
                str(tmp_path / "out"),
                "--speaker-regex",
                "(",
            ]
        )
        == 1
    )
    assert "not a valid regex" in capsys.readouterr().err


def test_every_entry_is_accounted_for_and_every_skip_listed(tmp_path, caplog):
    """ogg/mp3 are read like wav; a truncated wav, a folder named x.wav, a looping link, a file
    at the corpus root and a note are skipped with their reasons, each one named in the log."""
    import logging

    root = tmp_path / "corpus"
    t = np.arange(16000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    (root / "Angry").mkdir(parents=True)
    (root / "Sad").mkdir()
    sf.write(str(root / "Angry" / "A01_a.wav"), x, 16000)
    sf.write(str(root / "Angry" / "A02_b.ogg"), x, 16000, format="OGG", subtype="VORBIS")
    sf.write(str(root / "Sad" / "A01_c.mp3"), x, 16000, format="MP3", subtype="MPEG_LAYER_III")
    sf.write(str(root / "Sad" / "A02_d.wav"), x, 16000)
    whole = root / "Sad" / "A02_d.wav"
    trunc = root / "Sad" / "A02_e.wav"
    trunc.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    (root / "Sad" / "A03_x.wav").mkdir()
    (root / "Sad" / "A04_loop.wav").symlink_to(root / "Sad" / "A04_loop.wav")
    sf.write(str(root / "A05_root.wav"), x, 16000)
    (root / "Angry" / "notes.txt").write_text("recorded in 2020\n")
    with caplog.at_level(logging.WARNING):
        recs, sups, skipped = prepare_folder(root, r"^(A\d+)_", 0, 1)
    assert sorted(r.id for r in recs) == ["angry_A01_a", "angry_A02_b", "sad_A01_c", "sad_A02_d"]
    assert {r.id: r.sampling_rate for r in recs}["sad_A01_c"] == 16000
    reasons = {k: [Path(v.split(":")[0]).name for v in vs] for k, vs in skipped.items()}
    assert reasons == {
        "truncated audio": ["A02_e.wav"],
        "folder inside a label folder (the layout is <dir>/<Label>/<file>)": ["A03_x.wav"],
        "link that cannot be followed (Too many levels of symbolic links)": ["A04_loop.wav"],
        "file at the corpus root, not in a label folder": ["A05_root.wav"],
        "not an audio file (by its name)": ["notes.txt"],
    }
    for name in ("A02_e.wav", "A03_x.wav", "A04_loop.wav", "A05_root.wav", "notes.txt"):
        assert f"skipped {root}" in caplog.text and name in caplog.text
