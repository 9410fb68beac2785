"""The Kaldi-style conf reader shared by every Python tool."""

from __future__ import annotations

import pytest

from asr2emo.utils.config import (
    ConfArgumentParser,
    float_list,
    int_list,
    read_conf,
    str2bool,
    str_list,
)
from asr2emo.utils.errors import UserError


def parser() -> ConfArgumentParser:
    p = ConfArgumentParser(prog="tool")
    p.add_argument("--num-ceps", type=int, default=13)
    p.add_argument("--use-energy", type=str2bool, default=True)
    p.add_argument("--strides", type=int_list, default=[1])
    p.add_argument("--layers", type=str_list, default=["tdnnf12"])
    return p


def test_read_conf_strips_comments_and_blanks(tmp_path):
    conf = tmp_path / "mfcc.conf"
    conf.write_text("# hires MFCC\n\n--num-ceps=40   # comment\n  --use-energy=false\n--x=a=b\n")
    assert read_conf(conf) == [("num-ceps", "40", 3), ("use-energy", "false", 4), ("x", "a=b", 5)]


def test_read_conf_rejects_malformed_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("--num-ceps=40\nnum-ceps 40\n")
    with pytest.raises(UserError, match=r"bad.conf:2: expected a line '--key=value'"):
        read_conf(conf)


def test_command_line_overrides_config(tmp_path):
    conf = tmp_path / "a.conf"
    conf.write_text(
        "--num-ceps=40\n--use-energy=false\n--strides=1,1,0,3\n--layers=tdnnf12,prefinal\n"
    )
    args = parser().parse_args(["--config", str(conf)])
    assert (args.num_ceps, args.use_energy, args.strides) == (40, False, [1, 1, 0, 3])
    assert args.layers == ["tdnnf12", "prefinal"]
    args = parser().parse_args([f"--config={conf}", "--num-ceps", "20"])
    assert args.num_ceps == 20
    # a later config file wins over an earlier one, the command line over both
    conf2 = tmp_path / "b.conf"
    conf2.write_text("--num-ceps=30\n")
    assert parser().parse_args(["--config", str(conf), "--config", str(conf2)]).num_ceps == 30


def test_unknown_key_names_file_line_and_valid_keys(tmp_path, capsys):
    conf = tmp_path / "a.conf"
    conf.write_text("--num-ceps=40\n--num-cepz=3\n")
    with pytest.raises(SystemExit) as e:
        parser().parse_args(["--config", str(conf)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "a.conf:2: unknown key --num-cepz" in err[0]
    assert "--layers --num-ceps --strides --use-energy" in err[0]


def test_bad_value_is_one_line(tmp_path, capsys):
    conf = tmp_path / "a.conf"
    conf.write_text("--use-energy=maybe\n")
    with pytest.raises(SystemExit):
        parser().parse_args(["--config", str(conf)])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "expected true or false" in err[0]


def test_missing_config_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--config", str(tmp_path / "nope.conf")])
    assert "does not exist" in capsys.readouterr().err


def test_list_types():
    assert float_list("0.9,1.0,1.1") == [0.9, 1.0, 1.1]
    assert int_list("") == []
    with pytest.raises(Exception):
        int_list("1,a")


def test_repository_confs_parse(repo):
    """Every shipped conf file is well formed (keys are checked by each tool's own tests)."""
    confs = sorted((repo / "conf").rglob("*.conf"))
    assert confs
    for conf in confs:
        read_conf(conf)
