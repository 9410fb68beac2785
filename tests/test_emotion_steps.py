"""steps/train_emotion.sh and steps/make_report.sh as run.sh calls them (stages 8 and 9)."""

import json
import os
import subprocess

from asr2emo.bench.synthetic import make_synthetic_cuts
from asr2emo.utils.io import mark_done
from conftest import REPO


def _sh(*args):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(list(args), cwd=REPO, capture_output=True, text=True, env=env)


def test_stage8_and_9_steps(tmp_path):
    exp = tmp_path / "exp"
    make_synthetic_cuts(exp / "bottleneck" / "tdnnf12", utts_per_speaker=8, separation=0.5)
    mark_done(exp / "bottleneck" / "tdnnf12")
    conf = tmp_path / "emotion.conf"
    conf.write_text("--max-epochs=2  # quick\n--hidden-dims=\n--seed=5\n--model-layer=tdnnf12\n")
    r = _sh(
        "steps/train_emotion.sh",
        "--device",
        "cpu",
        "--config",
        str(conf),
        str(exp / "bottleneck"),
        str(exp / "emotion"),
    )
    assert r.returncode == 0, r.stderr
    m = json.loads((exp / "emotion" / "tdnnf12" / "metrics.json").read_text())
    assert m["config"]["seed"] == 5 and m["config"]["max_epochs"] == 2
    assert (exp / "emotion" / "model" / ".done").is_file()
    assert (exp / "emotion" / "log" / "train_emotion.log").is_file()
    # a rerun is a no-op that leaves the results untouched
    before = (exp / "emotion" / "tdnnf12" / "metrics.json").stat().st_mtime_ns
    assert (
        _sh(
            "steps/train_emotion.sh",
            "--config",
            str(conf),
            str(exp / "bottleneck"),
            str(exp / "emotion"),
        ).returncode
        == 0
    )
    assert (exp / "emotion" / "tdnnf12" / "metrics.json").stat().st_mtime_ns == before

    r = _sh("steps/make_report.sh", str(tmp_path / "manifests"), str(exp), str(exp / "report"))
    assert r.returncode == 0, r.stderr
    rep = json.loads((exp / "report" / "metrics.json").read_text())
    assert rep["ua"] == m["ua"] and rep["layer"] == "tdnnf12"


def test_step_usage_and_bad_config(tmp_path):
    r = _sh("steps/train_emotion.sh", "only-one-arg")
    assert r.returncode == 1 and "Usage" in r.stderr
    (tmp_path / "bn").mkdir()
    bad = tmp_path / "bad.conf"
    bad.write_text("--no-such-key=1\n")
    r = _sh(
        "steps/train_emotion.sh", "--config", str(bad), str(tmp_path / "bn"), str(tmp_path / "e")
    )
    assert r.returncode != 0 and "unknown key --no-such-key" in r.stderr
