"""Bad settings and odd data at the step level, through the real steps/*.sh scripts on
the products of the micro reference run: conf files with an unknown key or a bad value (MFCC,
i-vector extractor, LF-MMI, emotion head), a layer the model does not have, an utterance shorter
than the network's context, and a CV fold whose training data lacks a class.

A user error must give one error line naming what and where (and the valid choices), exit
non-zero, and never a Python traceback (or a crash).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from lhotse import CutSet, load_manifest

from faults import reference_pipeline, run


@pytest.fixture(scope="session")
def ref(micro_stage0, tmp_path_factory) -> Path:
    return reference_pipeline(micro_stage0, tmp_path_factory)


def _conf(path: Path, base: Path, *extra: str) -> Path:
    """``base`` conf with ``extra`` lines appended (a later key overrides an earlier one)."""
    path.write_text(base.read_text() + "".join(f"{e}\n" for e in extra))
    return path


def _step(ref: Path, out: Path, verb: str, conf: Path) -> list:
    """The step script of ``verb`` as run.sh calls it, with ``conf`` as its config."""
    mf = ref / "data" / "mfcc"
    if verb == "compute-mfcc":
        return [
            "steps/make_mfcc.sh",
            "--config",
            str(conf),
            f"{ref}/data/manifests",
            "tedlium2",
            str(out),
        ]
    if verb == "train-ivector-extractor":
        return [
            "steps/train_ivector_extractor.sh",
            "--config",
            str(conf),
            f"{mf}/tedlium2_cuts_train.jsonl.gz",
            str(out),
        ]
    if verb in ("train-lfmmi", "tdnnf"):
        model_conf = conf if verb == "tdnnf" else ref / "conf" / "tdnnf.conf"
        train_conf = ref / "conf" / "lfmmi.conf" if verb == "tdnnf" else conf
        return [
            "steps/train_lfmmi.sh", "--model-config", str(model_conf), "--config", str(train_conf),
            f"{mf}/tedlium2_cuts_train_ivec.jsonl.gz", f"{mf}/tedlium2_cuts_dev_ivec.jsonl.gz",
            f"{ref}/data/lang", str(out),
        ]  # fmt: skip
    if verb == "train-emotion":
        return [
            "steps/train_emotion.sh", "--config", str(conf), "--acoustic-model-dir",
            f"{ref}/exp/tdnnf", "--ivector-dir", f"{ref}/exp/ivector", f"{ref}/exp/bottleneck",
            str(out),
        ]  # fmt: skip
    if verb == "extract-bottleneck":
        return [
            "steps/extract_bottleneck.sh", "--config", str(conf), f"{ref}/exp/tdnnf",
            f"{mf}/iemocap_cuts_all_ivec.jsonl.gz", str(out),
        ]  # fmt: skip
    raise ValueError(verb)


CONF_OF = {
    "compute-mfcc": "mfcc_hires.conf",
    "train-ivector-extractor": "ivector.conf",
    "train-lfmmi": "lfmmi.conf",
    "tdnnf": "tdnnf.conf",
    "train-emotion": "emotion.conf",
    "extract-bottleneck": "bottleneck.conf",
}


# (verb, appended conf line, texts the one error line must contain)
CASES = [
    ("compute-mfcc", "--num-cepstra=40", ["unknown key --num-cepstra", "valid keys", "--num-ceps"]),
    ("compute-mfcc", "--num-ceps=forty", ["--num-ceps", "forty"]),
    (
        "compute-mfcc",
        "--num-ceps=0",
        ["--num-ceps"],
    ),
    (
        "train-ivector-extractor",
        "--num-gaussians=64",
        ["unknown key --num-gaussians", "--num-gauss"],
    ),
    (
        "train-ivector-extractor",
        "--num-gauss=0",
        ["--num-gauss"],
    ),
    ("train-lfmmi", "--num-epoch=2", ["unknown key --num-epoch", "--num-epochs"]),
    ("train-lfmmi", "--num-epochs=zero", ["--num-epochs", "zero"]),
    (
        "train-lfmmi",
        "--max-duration=0",
        ["--max-duration"],
    ),
    ("tdnnf", "--num-layer=13", ["unknown key --num-layer", "--num-layers"]),
    ("tdnnf", "--time-strides=1,1", ["--time-strides", "--num-layers=13"]),
    ("train-emotion", "--learning-rate=0.1", ["unknown key --learning-rate", "--lr"]),
    ("train-emotion", "--hidden-dims=abc", ["--hidden-dims", "abc"]),
    ("train-ivector-extractor", "--pca-dim=500", ["--pca-dim=500", "spliced feature dim"]),
    (
        "train-emotion",
        "--dropout=1.5",
        ["--dropout"],
    ),
    (
        "train-emotion",
        "--batch-size=0",
        ["--batch-size"],
    ),
    ("extract-bottleneck", "--layers=tdnnf99", ["unknown layer 'tdnnf99'", "tdnnf12", "prefinal"]),
]


@pytest.mark.parametrize("verb,line,expect", CASES)
def test_bad_conf_gives_one_error_line(ref, tmp_path, verb, line, expect):
    conf = _conf(tmp_path / CONF_OF[verb], ref / "conf" / CONF_OF[verb], line)
    r = run(_step(ref, tmp_path / "out", verb, conf), timeout=120)
    assert r.returncode != 0, r.stdout[-2000:]
    assert "Traceback" not in r.stdout, r.stdout[-3000:]
    errors = [ln for ln in r.stdout.splitlines() if re.search(r"\berror\b", ln, re.I)]
    assert len(errors) == 1, r.stdout[-3000:]
    for text in expect:
        assert text in errors[0], errors[0]
    if "unknown key" in expect[0]:  # where: the conf file and its line
        n = len(conf.read_text().splitlines())
        assert f"{conf}:{n}:" in errors[0], errors[0]
    assert not (tmp_path / "out" / ".done").exists()


def test_utterance_shorter_than_the_context_gets_padded_frames(ref, tmp_path):
    """A 0.05 s cut (5 frames; the model sees +-28) is extracted with edge padding: ceil(5/3)
    frames, finite, and its neighbours' bottlenecks are those of the reference run."""
    cuts = load_manifest(ref / "data" / "mfcc" / "iemocap_cuts_all_ivec.jsonl.gz").to_eager()
    first = list(cuts)[:4]
    short = first[0].truncate(duration=0.05)
    short = short.with_id(first[0].id + "_short")
    CutSet.from_cuts([short] + first[1:]).to_file(tmp_path / "cuts.jsonl.gz")
    out = tmp_path / "bottleneck"
    r = run(
        [
            "steps/extract_bottleneck.sh",
            "--config",
            f"{ref}/conf/bottleneck.conf",
            f"{ref}/exp/tdnnf",
            str(tmp_path / "cuts.jsonl.gz"),
            str(out),
        ]
    )
    assert r.returncode == 0 and "Traceback" not in r.stdout, r.stdout[-3000:]
    got = {
        c.id: c.load_custom("bottleneck") for c in load_manifest(out / "tdnnf12" / "cuts.jsonl.gz")
    }
    assert short.num_frames == 5
    assert got[short.id].shape[0] == 2 and np.isfinite(got[short.id]).all()
    refs = {
        c.id: c for c in load_manifest(ref / "exp" / "bottleneck" / "tdnnf12" / "cuts.jsonl.gz")
    }
    for c in first[1:]:
        np.testing.assert_allclose(got[c.id], refs[c.id].load_custom("bottleneck"), atol=1e-5)


def test_fold_with_a_class_missing_from_training_is_logged(ref, tmp_path):
    """'sad' kept only in session 1: fold 1 (test = session 1) has no 'sad' to train on."""
    bn = tmp_path / "bottleneck"
    shutil.copytree(ref / "exp" / "bottleneck", bn)
    cuts = load_manifest(bn / "tdnnf12" / "cuts.jsonl.gz")

    def keep(c) -> bool:
        s = c.supervisions[0].custom
        return not (s["emotion"] == "sad" and s["session"] != 1)

    CutSet.from_cuts([c for c in cuts if keep(c)]).to_file(bn / "tdnnf12" / "cuts.jsonl.gz")
    out = tmp_path / "emotion"
    cmd = _step(ref, out, "train-emotion", ref / "conf" / "emotion.conf")
    cmd[-2] = str(bn)
    r = run(cmd)
    assert "Traceback" not in r.stdout, r.stdout[-3000:]
    if r.returncode != 0:  # refused: one error line naming the fold and the class
        errors = [ln for ln in r.stdout.splitlines() if re.search(r"\berror\b", ln, re.I)]
        assert len(errors) == 1 and "sad" in errors[0] and "fold 1" in errors[0], r.stdout
    else:  # trained: a warning naming the fold and the class
        log = (out / "log" / "train_emotion.log").read_text()
        assert re.search(r"WARNING.*fold 1.*\bsad\b", log), log[-3000:]
