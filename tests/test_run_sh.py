"""run.sh's command line: help, option errors, corpus layout errors, unimplemented stages."""

from __future__ import annotations

import os
import subprocess


def run_sh(repo, *args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    return subprocess.run(
        ["./run.sh", *args], cwd=cwd or repo, capture_output=True, text=True, env=env, timeout=600
    )


def test_help_lists_every_stage(repo):
    r = run_sh(repo, "--help")
    assert r.returncode == 0
    for n in range(10):
        assert f"\n  {n}  " in r.stdout
    assert "--tedlium-dir" in r.stdout and "--iemocap-dir" in r.stdout


def test_unknown_option(repo):
    r = run_sh(repo, "--stgae", "1")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown option --stgae" in lines[0]


def test_bad_values(repo):
    for args, msg in [
        (["--stage", "x"], "--stage must be a non-negative integer"),
        (["--nj", "0"], "--nj must be at least 1"),
        (["--device", "gpu"], "--device must be cpu, cuda or cuda:N"),
        (["--stage", "5", "--stop-stage", "2"], "is after --stop-stage"),
        (["extra"], "unexpected argument 'extra'"),
    ]:
        r = run_sh(repo, *args)
        assert r.returncode != 0, args
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and msg in lines[0], (args, r.stderr)


def test_missing_corpus_names_layout(repo):
    r = run_sh(repo, "--iemocap-dir", "/nonexistent")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "'/nonexistent' does not exist" in lines[0]
    assert "Session{1..5}/dialog/EmoEvaluation" in lines[0]
    r = run_sh(repo, "--tedlium-dir", "/nonexistent")
    assert r.returncode != 0 and "{train,dev,test}/{sph,stm}" in r.stderr


def test_must_run_from_recipe_dir(repo, tmp_path):
    r = subprocess.run(
        [str(repo / "run.sh"), "--help"], cwd=tmp_path, capture_output=True, text=True
    )
    assert r.returncode != 0 and "run it from the recipe directory" in r.stderr
