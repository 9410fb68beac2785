"""run.sh stage 0 end to end on the micro demo corpora: manifests, validation, no-op rerun."""

from __future__ import annotations

from lhotse import RecordingSet, SupervisionSet
from lhotse.qa import validate_recordings_and_supervisions

from conftest import assert_golden_micro, run_recipe


def test_stage0_writes_valid_manifests(micro_stage0):
    man = micro_stage0 / "data" / "manifests"
    for corpus, parts in (("tedlium2", ("train", "dev", "test")), ("iemocap", ("all",))):
        for part in parts:
            recs = RecordingSet.from_file(man / f"{corpus}_recordings_{part}.jsonl.gz").to_eager()
            sups = SupervisionSet.from_file(man / f"{corpus}_supervisions_{part}.jsonl.gz")
            sups = sups.to_eager()
            assert len(recs) > 0 and len(sups) > 0
            validate_recordings_and_supervisions(recs, sups)
    sups = SupervisionSet.from_file(man / "iemocap_supervisions_all.jsonl.gz").to_eager()
    assert {s.custom["emotion"] for s in sups} == {"ang", "exc", "neu", "sad"}
    assert {s.custom["session"] for s in sups} == {1, 2, 3, 4, 5}
    assert len({s.speaker for s in sups}) == 10
    log = (micro_stage0 / "stage0.log").read_text()
    assert "Stage 0: corpora -> lhotse manifests" in log
    # the Table-1 layout and the dropped labels are logged
    assert "session    ang   exc   neu   sad  total" in log
    assert "dropped by label mapping:" in log


def test_recipe_writes_the_pinned_micro_corpora(micro_stage0):
    """run.sh's own demo corpora (the reference of the fault and determinism tests) have the
    bytes pinned for these tool versions, wherever and however loaded the suite runs."""
    corpora = micro_stage0 / "data" / "corpora"
    assert_golden_micro(
        {"tedlium": corpora / "TEDLIUM_release2", "iemocap": corpora / "IEMOCAP_full_release"}
    )


def test_stage0_rerun_is_noop(micro_stage0):
    man = micro_stage0 / "data" / "manifests"
    before = {p.name: p.stat().st_mtime_ns for p in man.glob("*.jsonl.gz")}
    r = run_recipe(micro_stage0, "--stage", "0", "--stop-stage", "0")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stderr.count("nothing to do") == 4  # 2 demo corpora + 2 manifest preparations
    after = {p.name: p.stat().st_mtime_ns for p in man.glob("*.jsonl.gz")}
    assert before == after
