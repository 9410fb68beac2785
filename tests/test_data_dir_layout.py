"""The old feature directory name (data/fbank/) is one error line whose fix works."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from asr2emo.cli import main as cli
from asr2emo.utils.data_dir import check_data_dir, data_dir_of, old_layout_error
from asr2emo.utils.errors import UserError
from asr2emo.utils.markers import fingerprint

CUTS = "iemocap_cuts_all_ivec.jsonl.gz"


def old_layout(root: Path) -> Path:
    """A data dir as older runs left it: features in fbank/, no mfcc/."""
    data = root / "data"
    (data / "fbank").mkdir(parents=True)
    (data / "fbank" / CUTS).write_bytes(b"cuts of an older run")
    (data / "manifests").mkdir()
    return data


def test_data_dir_of_each_kind_of_path(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert data_dir_of(data) == data
    assert data_dir_of(data / "mfcc") == data
    assert data_dir_of(data / "mfcc" / CUTS) == data
    assert data_dir_of(tmp_path / "elsewhere" / CUTS) == tmp_path / "elsewhere" / CUTS


def test_old_layout_is_one_error_line_for_every_path_kind(tmp_path: Path) -> None:
    data = old_layout(tmp_path)
    for path in (data, data / "mfcc", data / "mfcc" / CUTS):
        msg = old_layout_error(path)
        assert msg is not None and "\n" not in msg, path
        assert f"'ln -s fbank {data / 'mfcc'}'" in msg and "rerun" in msg
        with pytest.raises(UserError, match="old directory name"):
            check_data_dir(path)


def test_current_or_unrelated_layouts_pass(tmp_path: Path) -> None:
    new = tmp_path / "new"
    (new / "mfcc").mkdir(parents=True)
    both = tmp_path / "both"
    (both / "fbank").mkdir(parents=True)
    (both / "mfcc").mkdir()
    fresh = tmp_path / "fresh"  # before stage 2: neither exists
    (fresh / "manifests").mkdir(parents=True)
    other = tmp_path / "other"  # cuts given by hand, not under <data-dir>/mfcc/
    (other / "fbank").mkdir(parents=True)
    for path in (new, new / "mfcc" / CUTS, both, fresh, fresh / "mfcc" / CUTS, other / CUTS):
        assert old_layout_error(path) is None, path
        check_data_dir(path)


def test_the_suggested_link_keeps_paths_and_markers(tmp_path: Path) -> None:
    data = old_layout(tmp_path)
    before = fingerprint(data / "fbank" / CUTS)
    command = re.search(r"'(ln -s [^']+)'", old_layout_error(data)).group(1)
    subprocess.run(shlex.split(command), check=True, cwd=tmp_path)
    assert old_layout_error(data) is None
    assert (data / "mfcc" / CUTS).read_bytes() == b"cuts of an older run"
    # done markers fingerprint resolved paths: a later stage's record of its input still matches
    assert fingerprint(data / "mfcc" / CUTS) == before


def test_verb_exit_status_and_one_line(tmp_path: Path, capsys) -> None:
    data = old_layout(tmp_path)
    assert cli(["check-data-dir", str(tmp_path / "fresh"), str(data)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("asr2emo check-data-dir: error: ")
    (data / "mfcc").symlink_to("fbank")
    assert cli(["check-data-dir", str(data), str(data / "mfcc" / CUTS)]) == 0
    assert capsys.readouterr().err == ""
