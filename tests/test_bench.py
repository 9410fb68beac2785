"""make bench's runner: one cheap entry end to end (--quick), entry discovery, the printed table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from asr2emo.bin.bench import entries, format_table

REPO = Path(__file__).resolve().parent.parent


def test_entries_named_by_issue_8_exist():
    assert {"mfcc", "ivector", "train", "bottleneck", "predict"} <= set(entries())
    assert {"decode", "predict_demo", "timeline"} <= set(entries())


def test_quick_run_of_one_entry(tmp_path):
    out = tmp_path / "bench"
    proc = subprocess.run(
        [sys.executable, "-m", "asr2emo", "bench", "--entries", "bottleneck"]
        + ["--quick", "true", "--out-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "bench.json").read_text())
    assert doc["machine"]["cores"] >= 1
    assert list(doc["entries"]) == ["bottleneck"]
    r = doc["entries"]["bottleneck"]
    assert r["figure"] > 0 and r["unit"]
    # The child process loads torch and a TDNN-F: its peak RSS is well above 50 MB.
    assert 50 < r["peak_rss_mb"] < 100_000
    assert 0 < r["wall_s"] < 120
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["entry", "figure"]
    assert any(line.startswith("bottleneck") for line in lines)
    assert all(len(line) < 120 for line in lines), max(lines, key=len)


def test_unknown_entry_is_an_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "asr2emo", "bench", "--entries", "nope", "--out-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "unknown bench entries ['nope']" in proc.stderr + proc.stdout
    assert not (tmp_path / "bench.json").exists()


def test_table_wraps_long_details_and_marks_errors():
    results = {
        "x": {
            "figure": 1.23456,
            "unit": "u",
            "peak_rss_mb": 10.0,
            "wall_s": 1.0,
            "detail": {f"key{i}": i * 0.5 for i in range(40)},
        },
        "y": {"error": "exit status 1", "wall_s": 0.5},
    }
    lines = format_table(results, width=80)
    assert lines[1].split()[:2] == ["x", "1.235"]
    detail = [line for line in lines if line.startswith("    ")]
    assert len(detail) > 1 and all(len(line) <= 80 for line in detail)
    joined = " ".join(line.strip() for line in detail)
    assert "key0=0" in joined and "key39=19.5" in joined
    assert lines[-1].split()[:2] == ["y", "ERROR"] and "exit status 1" in lines[-1]


def test_timeline_entry_measures_a_fresh_process_and_both_runtimes(tmp_path):
    """The timeline entry's parts on a tiny model: the child process imports no torch, its
    peak RSS is its own (not pytest's, which holds torch), ONNX and TorchScript agree."""
    from asr2emo.bench.synthetic import make_random_model_dir
    from asr2emo.bench.timeline import measure_length, side_by_side, write_long_wav
    from asr2emo.emotion.onnx_export import export_onnx_dir
    from asr2emo.emotion.torchscript import export_model_dir
    from test_predict_timeline import CLASSES, TINY

    model_dir = make_random_model_dir(tmp_path, CLASSES, "tdnnf3", TINY, num_gauss=4, pca_dim=12)
    export_onnx_dir(model_dir, tmp_path / "onnx")
    export_model_dir(model_dir, tmp_path / "ts")
    wav = write_long_wav(tmp_path / "a.wav", 0.1)  # 6 s: windows [0, 4) and [2, 6)
    r = measure_length(tmp_path / "onnx", wav)
    assert r["records"] == 2 and r["audio_s"] == 6.0
    assert 0 < r["network_s"] < r["seconds"]
    # onnxruntime and numpy: tens of MB; pytest's own peak (torch) would be several hundred
    assert 20 < r["peak_rss_mb"] < 250, r
    side = side_by_side(tmp_path / "onnx", tmp_path / "ts", wav)
    assert side["rtf_onnx"] > 0 and side["rtf_torchscript"] > 0
    assert side["same_labels"] and side["max_posterior_diff"] < 1e-4
