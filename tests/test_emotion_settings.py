"""Stage 8's settings read once: the same head, classes and seed for every verb that reuses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from asr2emo.bin import train_emotion
from asr2emo.emotion.settings import EmotionSettings, head_config, read_emotion_conf
from asr2emo.emotion.train import HeadConfig

REPO = Path(__file__).resolve().parent.parent


def test_paper_conf_gives_the_values_written_in_it() -> None:
    # conf/emotion.conf, read by eye: a 1024-unit hidden layer, Adam 1e-3, 512-frame batches,
    # frames held as float16.
    expected = HeadConfig(
        hidden_dims=[1024], dropout=0.2, lr=0.001, weight_decay=0.0, batch_size=512,
        max_epochs=20, patience=4, frames_per_epoch=0, class_weight="none", seed=1,
    )  # fmt: skip
    got = read_emotion_conf(REPO / "conf" / "emotion.conf")
    assert got == EmotionSettings(expected, [], "float16")


def test_no_conf_gives_the_dataclass_defaults() -> None:
    for conf in (None, ""):
        assert read_emotion_conf(conf) == EmotionSettings(HeadConfig(), [])


def test_same_as_stage_8_for_every_key(tmp_path: Path) -> None:
    # Every stage-8 key, head or not; the positional dirs are stage 8's alone.
    conf = tmp_path / "emotion.conf"
    conf.write_text(
        "--hidden-dims=16,8\n--dropout=0.1\n--lr=0.02\n--weight-decay=0.5\n--batch-size=7\n"
        "--max-epochs=3\n--patience=0\n--frames-per-epoch=99\n--class-weight=balanced\n"
        "--seed=11\n--classes=sad,ang\n--layers=tdnnf12\n--model-layer=tdnnf12\n"
        "--frame-dtype=float16\n--device=cpu\n--num-threads=2\n"
    )
    got = read_emotion_conf(conf)
    assert got.head == HeadConfig(
        hidden_dims=[16, 8], dropout=0.1, lr=0.02, weight_decay=0.5, batch_size=7,
        max_epochs=3, patience=0, frames_per_epoch=99, class_weight="balanced", seed=11,
    )  # fmt: skip
    assert got.classes == ["sad", "ang"] and got.frame_dtype == "float16"
    stage8 = train_emotion.get_parser().parse_args(["--config", str(conf), "bn", "emo"])
    assert head_config(stage8) == got.head and stage8.classes == got.classes
    assert stage8.frame_dtype == got.frame_dtype


def test_unknown_key_is_stage_8s_error(tmp_path: Path, capsys) -> None:
    conf = tmp_path / "emotion.conf"
    conf.write_text("--lr=0.1\n--hiden-dims=8\n")
    with pytest.raises(SystemExit) as e:
        read_emotion_conf(conf)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{conf}:2: unknown key --hiden-dims" in err[0]
