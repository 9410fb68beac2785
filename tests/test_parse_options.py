"""utils/parse_options.sh keeps Kaldi's semantics, plus --config of --key=value lines."""

from __future__ import annotations

import subprocess

SCRIPT = """
set -euo pipefail
stage=0
nj=4
use_gpu=false
tedlium_dir=
help_message="Usage: t.sh [options] a b
  e.g.: t.sh --stage 3 --config conf/x.conf a b   (examples are not options)
Options:
  --stage N          first stage
  --nj N             jobs
  --use-gpu BOOL     true or false
  --tedlium-dir DIR  corpus"
. {repo}/utils/parse_options.sh
echo "stage=$stage nj=$nj use_gpu=$use_gpu tedlium_dir=$tedlium_dir rest=$*"
"""


def run(repo, tmp_path, *args):
    script = tmp_path / "t.sh"
    script.write_text(SCRIPT.format(repo=repo))
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True)


def test_options_set_variables(repo, tmp_path):
    r = run(
        repo,
        tmp_path,
        "--stage",
        "3",
        "--nj=8",
        "--use-gpu",
        "true",
        "--tedlium-dir",
        "/x",
        "a",
        "b",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "stage=3 nj=8 use_gpu=true tedlium_dir=/x rest=a b"


def test_parsing_stops_at_first_positional(repo, tmp_path):
    r = run(repo, tmp_path, "a", "--stage", "3")
    assert r.stdout.strip() == "stage=0 nj=4 use_gpu=false tedlium_dir= rest=a --stage 3"


def test_unknown_option_is_one_line_with_valid_options(repo, tmp_path):
    r = run(repo, tmp_path, "--stagee", "3")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unknown option --stagee" in lines[0]
    assert lines[0].rstrip().endswith("valid options: --nj --stage --tedlium-dir --use-gpu")


def test_boolean_checked(repo, tmp_path):
    r = run(repo, tmp_path, "--use-gpu", "yes")
    assert r.returncode != 0 and "takes true or false" in r.stderr


def test_config_file_then_command_line(repo, tmp_path):
    conf = tmp_path / "run.conf"
    conf.write_text("# a comment\n--stage=2   # trailing\n\n--nj=6\n")
    r = run(repo, tmp_path, "--config", str(conf), "--nj", "1")
    assert r.stdout.strip().startswith("stage=2 nj=1 ")
    conf.write_text("--stage=2\n--bogus=1\n")
    r = run(repo, tmp_path, "--config", str(conf))
    assert (
        r.returncode != 0 and "unknown option --bogus (in" in r.stderr and "run.conf:2" in r.stderr
    )
    conf.write_text("stage 2\n")
    r = run(repo, tmp_path, "--config", str(conf))
    assert r.returncode != 0 and "expected a line '--key=value'" in r.stderr


def test_help(repo, tmp_path):
    r = run(repo, tmp_path, "--help")
    assert r.returncode == 0 and r.stdout.startswith("Usage: t.sh")


def test_missing_value(repo, tmp_path):
    r = run(repo, tmp_path, "--stage")
    assert r.returncode != 0 and "needs a value" in r.stderr


def test_step_with_own_config_variable_receives_the_file(repo, tmp_path):
    """A script that defines `config` (steps/*.sh) gets --config FILE as a plain option."""
    script = tmp_path / "step.sh"
    script.write_text(
        "set -euo pipefail\nnj=1\nconfig=\nhelp_message='  --nj N'\n"
        f". {repo}/utils/parse_options.sh\n"
        'echo "nj=$nj config=$config rest=$*"\n'
    )
    conf = tmp_path / "tool.conf"
    conf.write_text("--key-of-the-python-tool=1\n")
    r = subprocess.run(
        ["bash", str(script), "--config", str(conf), "--nj", "2", "x"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"nj=2 config={conf} rest=x"
