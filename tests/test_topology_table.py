"""The CTC-vs-chain table reads each run's outputs and summarizes them checkably."""

import json
import statistics
from pathlib import Path

from asr2emo.report.topology import collect_run, write_table


def _write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _fake_run(work: Path, topo: str, seed: int, wer_test: float, ua12: float, sweep: bool) -> None:
    exp = work / topo / f"s{seed}" / "exp"
    _write(
        work / topo / "data" / "lang" / "lang.json", {"num_outputs": 42 if topo == "ctc" else 432}
    )
    _write(exp / "tdnnf" / "decode_dev" / "decode.json", {"wer": 1.0})
    _write(exp / "tdnnf" / "decode_test" / "decode.json", {"wer": wer_test})
    _write(exp / "emotion" / "tdnnf12" / "metrics.json", {"ua_fold_mean": ua12})
    (exp / "tdnnf").mkdir(parents=True, exist_ok=True)
    (exp / "tdnnf" / "loss.csv").write_text(
        "step,epoch,progress,lr,train_loss,valid_loss,frames_per_s\n"
        "10,1,0.5,1e-3,1.0,,100\n20,1,1.0,1e-3,0.9,0.25,100\n30,2,1.0,1e-3,0.8,,100\n"
    )
    _write(exp / "report" / "metrics.json", {"ua_fold_mean": 0.9, "layer": "tdnnf13"})
    if sweep:
        rows = [{"layer": "tdnnf2", "ua_fold_mean": 0.5}, {"layer": "tdnnf9", "ua_fold_mean": 0.7}]
        _write(work / topo / f"s{seed}" / "sweep" / "sweep.json", {"rows": rows})


def test_rows_and_means(tmp_path: Path) -> None:
    _fake_run(tmp_path, "ctc", 1, 4.0, 0.70, sweep=True)
    _fake_run(tmp_path, "ctc", 2, 6.0, 0.74, sweep=False)
    _fake_run(tmp_path, "chain", 1, 5.0, 0.72, sweep=False)
    row = collect_run(tmp_path, "ctc", 1)
    assert row["num_outputs"] == 42 and row["valid_loss"] == 0.25
    assert row["sweep_best"] == "tdnnf9" and abs(row["sweep_best_ua"] - 70.0) < 1e-9
    assert row["ua_tdnnf13"] is None  # not run: a dash, not a guess
    table = write_table(tmp_path, ["ctc", "chain"], [1, 2])
    missing = [r for r in table["runs"] if r["topology"] == "chain" and r["seed"] == 2][0]
    assert missing["wer_test"] is None
    md = (tmp_path / "topology.md").read_text()
    sd = statistics.stdev([4.0, 6.0])
    assert f"5.00 +- {sd:.2f}" in md  # ctc test WER over the two seeds
    assert row.get("folder_ua") is None  # IEMOCAP's own exp/report is no folder corpus
    chain_line = [ln for ln in md.splitlines() if ln.startswith("| **chain**")][0]
    assert "| 5.00 |" in chain_line  # one finished chain run: its value, no sd
    assert "| 432 |" in chain_line  # a constant column: its value
    _write(tmp_path / "ctc" / "s1" / "urdu" / "report" / "metrics.json", {"ua_fold_mean": 0.5})
    assert collect_run(tmp_path, "ctc", 1)["folder_ua"] == 50.0
