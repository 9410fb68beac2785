"""Reruns after an input or a conf changed recompute what depends on it and say why; an unchanged
rerun stays a no-op. One test per stale-result case users met, through the real verbs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from lhotse import SupervisionSet

from asr2emo.bench.synthetic import make_synthetic_cuts
from asr2emo.bin import train_emotion
from asr2emo.cli import main as cli
from asr2emo.emotion.head import load_head
from asr2emo.model.tdnnf import TdnnfConfig, TdnnfModel, config_to_dict
from asr2emo.utils.markers import make_record, stale_reason, write_marker
from conftest import REPO, SHARED_DATA, write_tone
from test_data_iemocap import make_corpus
from yesno import yesno_cuts

YESNO = SHARED_DATA / "yesno" / "waves_yesno"


def _log(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def test_marker_reasons_name_what_changed(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a")
    rec = make_record("step", {"lr": 0.1, "dims": [256]}, {"data": src})
    assert stale_reason(tmp_path / "out", rec) == "not finished yet"
    write_marker(tmp_path / "out", rec)
    assert stale_reason(tmp_path / "out", rec) is None
    new = make_record("step", {"lr": 0.1, "dims": [64]}, {"data": src})
    assert stale_reason(tmp_path / "out", new) == "--dims [256] -> [64]"
    src.write_text("ab")
    again = make_record("step", {"lr": 0.1, "dims": [256]}, {"data": src})
    assert "input data" in stale_reason(tmp_path / "out", again)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / ".done").write_text("2026-11-01 10:00:00\n")  # a marker of old code
    assert "predates input tracking" in stale_reason(tmp_path / "old", rec)


def test_iemocap_wav_added_after_preparation_is_picked_up(tmp_path):
    root = make_corpus(tmp_path / "IEMOCAP_full_release")
    out = tmp_path / "manifests"
    assert cli(["prepare-iemocap", str(root), str(out)]) == 0
    before = {s.id for s in SupervisionSet.from_file(out / "iemocap_supervisions_all.jsonl.gz")}
    assert "Ses01F_impro01_F004" not in before  # listed in EmoEvaluation, wav missing
    write_tone(
        root / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F004.wav", 0.8
    )
    assert cli(["prepare-iemocap", str(root), str(out)]) == 0
    after = {s.id for s in SupervisionSet.from_file(out / "iemocap_supervisions_all.jsonl.gz")}
    assert after == before | {"Ses01F_impro01_F004"}
    assert "recomputing: input corpus" in _log(out / "log" / "prepare_iemocap.log")
    assert cli(["prepare-iemocap", str(root), str(out)]) == 0
    assert _log(out / "log" / "prepare_iemocap.log").rstrip().endswith("nothing to do")


def _folder_corpus(root: Path) -> Path:
    for label in ("Angry", "Sad"):
        for spk in ("SM1", "SF2", "SM3", "SF4"):
            for i in range(2):
                write_tone(root / label / f"{spk}_{label[0]}{i}.wav", 0.4, seed=i)
    return root


def test_folder_manifests_follow_the_speaker_options_and_refuse_another_corpus(tmp_path):
    corpus = _folder_corpus(tmp_path / "a" / "urdu")
    out = tmp_path / "data" / "manifests"
    base = ["prepare-folder", "--name", "urdu", str(corpus), str(out)]
    assert cli(base[:1] + ["--speaker-regex", "^(S[MF]\\d)_", "--num-folds", "2"] + base[1:]) == 0
    sups = SupervisionSet.from_file(out / "urdu_supervisions_all.jsonl.gz")
    assert {s.custom["session"] for s in sups} == {1, 2}
    assert cli(base[:1] + ["--speaker-regex", "^(S[MF]\\d)_", "--num-folds", "4"] + base[1:]) == 0
    sups = SupervisionSet.from_file(out / "urdu_supervisions_all.jsonl.gz")
    assert {s.custom["session"] for s in sups} == {1, 2, 3, 4}
    assert "recomputing: --num-folds 2 -> 4" in _log(out / "log" / "prepare_folder.log")
    # A second corpus of the same name (another folder called urdu) does not overwrite the first.
    other = _folder_corpus(tmp_path / "b" / "urdu")
    r = cli(
        [
            "prepare-folder",
            "--speaker-regex",
            "^(S[MF]\\d)_",
            "--name",
            "urdu",
            str(other),
            str(out),
        ]
    )
    assert r == 1
    assert len(SupervisionSet.from_file(out / "urdu_supervisions_all.jsonl.gz")) == len(sups)


def test_emotion_conf_change_retrains_folds_and_model(tmp_path):
    bn = tmp_path / "bn"
    make_synthetic_cuts(bn / "tdnnf12", utts_per_speaker=8, separation=0.5, seed=0)
    write_marker(bn / "tdnnf12", make_record("extract-bottleneck", {}, {}))
    (tmp_path / "tdnnf").mkdir()
    (tmp_path / "tdnnf" / "final.pt").write_bytes(b"model")

    def run(*conf):
        args = [str(bn), str(tmp_path / "emo"), "--max-epochs=2", *conf]
        return train_emotion.main(train_emotion.get_parser().parse_args(args))

    assert run("--hidden-dims=16") == 0
    head, _ = load_head(tmp_path / "emo" / "model" / "head.pt")
    assert head.config["hidden_dims"] == [16]
    fold1 = tmp_path / "emo" / "tdnnf12" / "fold-1" / "head.pt"
    mtime = fold1.stat().st_mtime_ns
    assert run("--hidden-dims=16") == 0  # unchanged: nothing recomputed
    assert fold1.stat().st_mtime_ns == mtime
    assert run("--hidden-dims=8") == 0
    log = _log(tmp_path / "emo" / "log" / "train_emotion.log")
    assert "recomputing: --hidden-dims [16] -> [8]" in log
    assert load_head(fold1)[0].config["hidden_dims"] == [8]
    assert load_head(tmp_path / "emo" / "model" / "head.pt")[0].config["hidden_dims"] == [8]


@pytest.mark.skipif(not YESNO.is_dir(), reason=f"{YESNO} not present")
def test_a_model_still_training_is_named_never_guessed_and_its_final_model_is_used(tmp_path):
    cuts = yesno_cuts(YESNO, tmp_path / "mfcc", sorted(YESNO.glob("*.wav"))[:2])
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    exp = tmp_path / "tdnnf"
    exp.mkdir()
    config = TdnnfConfig(num_layers=13, hidden_dim=16, bottleneck_dim=8, prefinal_dim=8)

    def save(name, seed):
        torch.manual_seed(seed)
        model = TdnnfModel(config, 5)
        ckpt = {"model": model.state_dict(), "model_config": config_to_dict(config)}
        torch.save(dict(ckpt, num_outputs=5), exp / name)

    save("epoch-1.pt", 1)
    cmd = [
        "steps/extract_bottleneck.sh",
        str(exp),
        str(tmp_path / "cuts.jsonl.gz"),
        str(tmp_path / "bn"),
    ]
    env_cmd = cmd[:1] + ["--config", str(tmp_path / "bn.conf")] + cmd[1:]
    (tmp_path / "bn.conf").write_text(
        "--layers=tdnnf12\n--storage=numpy\n--require-ivectors=false\n"
    )
    r = subprocess.run(env_cmd, cwd=REPO, capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "has no final.pt" in r.stderr and "epoch-1.pt" in r.stderr
    save("final.pt", 2)
    r = subprocess.run(env_cmd, cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"acoustic model: {exp / 'final.pt'}" in _log(
        tmp_path / "bn" / "log" / "extract_bottleneck.log"
    )
    first = np.load(next((tmp_path / "bn" / "tdnnf12" / "feats").rglob("*.npy")))
    save("final.pt", 3)  # a retrained model: the layer is recomputed, not reused
    r = subprocess.run(env_cmd, cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0 and "recomputing: input model" in _log(
        tmp_path / "bn" / "log" / "extract_bottleneck.log"
    )
    second = np.load(next((tmp_path / "bn" / "tdnnf12" / "feats").rglob("*.npy")))
    assert not np.array_equal(first, second)
    r = subprocess.run(env_cmd, cwd=REPO, capture_output=True, text=True)
    assert (
        "nothing to do" in _log(tmp_path / "bn" / "log" / "extract_bottleneck.log").splitlines()[-1]
    )
