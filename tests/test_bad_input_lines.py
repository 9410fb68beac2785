"""Mistakes a user can make get one clear line (what, where, what to do) and a non-zero status,
never a traceback: stage numbers, corpus layouts, class names, output locations, devices."""

from __future__ import annotations

import errno
import subprocess
import sys

import pytest

from asr2emo.cli import main as cli
from conftest import REPO, make_micro_conf
from test_data_iemocap import make_corpus


def _sh(*cmd: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=300)


def _one_error(r, *parts: str) -> str:
    assert r.returncode != 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr + r.stdout, r.stderr[-3000:]
    errors = [ln for ln in r.stderr.splitlines() if "ERROR" in ln or "error:" in ln]
    assert len(errors) == 1, r.stderr[-3000:]
    for part in parts:
        assert part in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def conf(tmp_path_factory):
    return make_micro_conf(tmp_path_factory.mktemp("conf") / "conf")


def test_stage_numbers_outside_the_recipe(tmp_path, conf):
    r = _sh("./run.sh", "--conf-dir", str(conf), "--stage", "99", "--stop-stage", "99")
    _one_error(r, "--stage 99 is not a stage of this recipe (0..9)")
    r = _sh("./run.sh", "--conf-dir", str(conf), "--stage", "3", "--stop-stage", "12")
    _one_error(r, "--stop-stage 12")
    r = _sh("recipes/emotion_folder.sh", "--corpus-dir", str(tmp_path), "--speaker-regex", "x",
            "--stage", "7")  # fmt: skip
    _one_error(r, "(0..5)")


def test_corpus_paths_are_checked_in_full_before_any_work(tmp_path, conf):
    data = tmp_path / "data"
    common = ["./run.sh", "--conf-dir", str(conf), "--data-dir", str(data)]
    not_dir = tmp_path / "IEMOCAP.tar"
    not_dir.write_text("an archive, not the corpus")
    _one_error(_sh(*common, "--iemocap-dir", str(not_dir)), "is a file, not a directory")
    only1 = make_corpus(tmp_path / "IEMOCAP_full_release")
    for s in (2, 3, 4, 5):
        subprocess.run(["rm", "-rf", str(only1 / f"Session{s}")], check=True)
    _one_error(_sh(*common, "--iemocap-dir", str(only1)), "has no Session2/", "all five sessions")
    assert not data.exists()  # refused before the demo TED-LIUM synthesis
    ted = tmp_path / "TEDLIUM_release2"
    for part in ("train", "dev", "test"):
        (ted / part / "stm").mkdir(parents=True)
    _one_error(_sh(*common, "--tedlium-dir", str(ted)), "has no train/sph/")


def test_iemocap_classes_are_checked_against_its_labels(tmp_path, capsys):
    root = make_corpus(tmp_path / "IEMOCAP_full_release")
    out = tmp_path / "manifests"
    assert cli(["prepare-iemocap", "--classes", "ang,exc,neu,xyz", str(root), str(out)]) == 1
    err = capsys.readouterr().err
    assert "xyz is not an IEMOCAP label" in err and "valid labels:" in err
    assert cli(["prepare-iemocap", "--classes", "ang,exc,neu,dis", str(root), str(out)]) == 1
    assert "no utterance of dis" in capsys.readouterr().err
    assert not (out / "iemocap_supervisions_all.jsonl.gz").exists()


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.EACCES])
def test_unwritable_outputs_are_one_line(tmp_path, monkeypatch, capsys, code):
    """A read-only, full or forbidden output location (root ignores permissions, so the
    filesystem's error is injected where the verb writes its manifests)."""
    import asr2emo.data.iemocap as iemocap

    def refuse(*a, **kw):
        raise OSError(code, __import__("os").strerror(code), str(tmp_path / "out" / "x.jsonl.gz"))

    monkeypatch.setattr(iemocap, "write_manifests", refuse)
    root = make_corpus(tmp_path / "IEMOCAP_full_release")
    assert cli(["prepare-iemocap", str(root), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("asr2emo prepare-iemocap: error: cannot write")
    assert "x.jsonl.gz" in err[-1] and "Traceback" not in "\n".join(err)


def test_a_real_unwritable_location(tmp_path):
    """/sys refuses new entries even to root: the same one line, from a real filesystem."""
    root = make_corpus(tmp_path / "IEMOCAP_full_release")
    r = _sh(sys.executable, "-m", "asr2emo", "prepare-iemocap", str(root), "/sys/asr2emo_out")
    _one_error(r, "cannot write", "/sys/asr2emo_out")


def test_no_verb_devices_and_threads(tmp_path):
    r = _sh(sys.executable, "-m", "asr2emo")
    assert r.returncode == 2 and "usage: asr2emo <verb>" in r.stderr
    for args in (["--device", "tpu"], ["--device", "cuda:7"], ["--num-threads", "0"]):
        r = _sh(sys.executable, "-m", "asr2emo", "predict", *args, str(tmp_path), "a.wav")
        _one_error(r)
        r = _sh(sys.executable, "-m", "asr2emo", "transcribe", *args, str(tmp_path), "a.wav")
        _one_error(r)
    # the trainers beyond the paper take the same device and thread options, checked first
    for verb, pos in (("run-baselines", ["m", "iemocap", "o"]), ("train-dimensional", ["b", "o"]),
                      ("finetune-emotion", ["model", "cuts.jsonl.gz", "o"])):  # fmt: skip
        r = _sh(sys.executable, "-m", "asr2emo", verb, "--device", "tpu", *pos, cwd=tmp_path)
        _one_error(r, "--device must be cpu, cuda or cuda:N, got 'tpu'")


def test_tedlium_part_without_usable_talks_says_why(tmp_path, capsys):
    from test_data_tedlium import make_corpus as make_ted

    root = make_ted(tmp_path / "TEDLIUM_release2")
    for sph in (root / "dev" / "sph").glob("*.sph"):
        sph.write_bytes(b"")
    assert cli(["prepare-tedlium", str(root), str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "no usable talk in" in err and "bad .sph" in err and "unreadable audio" in err


def test_folder_recipe_conf_dir_and_last_line(tmp_path):
    """--conf-dir follows the acoustic model's topology; a slice without the report does not
    claim one."""
    import torch

    from asr2emo.model.tdnnf import TdnnfModel, config_to_dict, read_model_config

    exp = tmp_path / "asr" / "tdnnf"
    exp.mkdir(parents=True)
    config = read_model_config(str(REPO / "conf" / "mini" / "tdnnf.conf"))
    ckpt = {"model_config": config_to_dict(config), "num_outputs": 5}
    torch.save(dict(ckpt, model=TdnnfModel(config, 5).state_dict()), exp / "final.pt")
    r = _sh(sys.executable, "-m", "asr2emo", "model-conf", str(exp), "conf", "conf/mini")
    assert r.returncode == 0 and r.stdout.strip() == "conf/mini"
    corpus = tmp_path / "emo"
    from conftest import write_tone

    for label in ("Angry", "Sad"):
        for spk in ("SM1", "SF2"):
            write_tone(corpus / label / f"{spk}_{label}.wav", 0.5)
    common = ["recipes/emotion_folder.sh", "--corpus-dir", str(corpus), "--speaker-regex",
              "^(S[MF]\\d)_", "--num-folds", "0", "--data-dir", str(tmp_path / "data"),
              "--exp-dir", str(tmp_path / "exp"), "--stop-stage", "0"]  # fmt: skip
    r = _sh(*common, "--asr-exp-dir", str(tmp_path / "asr"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "--conf-dir conf/mini: the one the acoustic model" in r.stderr
    assert r.stderr.strip().splitlines()[-1].endswith("Done: stages 0..0 (the report is stage 5)")
    r = _sh(*common, "--asr-exp-dir", str(tmp_path / "asr"), "--conf-dir", "conf")
    assert r.returncode == 0 and "WARNING: conf/tdnnf.conf does not describe" in r.stderr
