"""Determinism: two uninterrupted runs with the same seeds give identical products on the
micro demo corpora: stage 0 manifests (and corpora), stage 2 features + CMVN, stage 3 extractor +
i-vectors, stage 8 metrics.json.

Run A is ``micro_stage0`` + ``faults.reference_pipeline``; run B regenerates everything from
scratch in another directory (stage 0, then stages 2-3 on B's own manifests, then stage 8 on the
same stage-7 bottleneck as A). Paths inside manifests differ between the two directories and
are compared after replacing the work dir with a placeholder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from faults import (
    assert_arrays_equal,
    cut_arrays,
    fast_conf,
    jsonl_gz_records,
    recipe_cmd,
    reference_pipeline,
    run,
)

pytestmark = pytest.mark.slow  # an independent second run of stages 0, 2-3 and 8: ~35 s


@pytest.fixture(scope="session")
def ref(micro_stage0, tmp_path_factory) -> Path:
    return reference_pipeline(micro_stage0, tmp_path_factory)


@pytest.fixture(scope="session")
def run_b(ref, tmp_path_factory) -> Path:
    """A second, independent run: stage 0, stages 2-3, and stage 8 on A's bottleneck."""
    import shutil

    b = tmp_path_factory.mktemp("determinism_b")
    fast_conf(b / "conf")
    for first, last in ((0, 0), (2, 3)):
        r = run(recipe_cmd(b, b / "conf", first, last))
        assert r.returncode == 0, r.stdout[-3000:]
    shutil.copytree(ref / "exp" / "bottleneck", b / "exp" / "bottleneck")
    (b / "exp" / "tdnnf").symlink_to(ref / "exp" / "tdnnf")  # read only: copied into the model
    # what run.sh stage 8 runs (without run.sh's environment check, to save time)
    emotion_conf = str(b / "conf" / "emotion.conf")
    r = run(
        [
            "steps/train_emotion.sh",
            "--config",
            emotion_conf,
            f"{b}/exp/bottleneck",
            f"{b}/exp/emotion",
        ]
    )
    assert r.returncode == 0, r.stdout[-3000:]
    return b


def test_stage0_manifests_identical(micro_stage0, run_b):
    a, b = micro_stage0 / "data" / "manifests", run_b / "data" / "manifests"
    names = sorted(p.name for p in a.glob("*.jsonl.gz"))
    assert len(names) == 8  # tedlium2 x {train,dev,test} + iemocap all, recordings + supervisions
    assert names == sorted(p.name for p in b.glob("*.jsonl.gz"))
    for name in names:
        assert jsonl_gz_records(a / name, micro_stage0) == jsonl_gz_records(b / name, run_b), name


def test_stage2_features_identical(ref, run_b):
    for part in ("train", "dev", "test"):
        name = f"tedlium2_cuts_{part}.jsonl.gz"
        fa, fb = cut_arrays(ref / "data" / "mfcc" / name), cut_arrays(
            run_b / "data" / "mfcc" / name
        )
        assert len(fa) > 0
        assert_arrays_equal(fa, fb)
    cmvn_a = json.loads((ref / "data" / "mfcc" / "tedlium2_cmvn.json").read_text())
    cmvn_b = json.loads((run_b / "data" / "mfcc" / "tedlium2_cmvn.json").read_text())
    assert cmvn_a == cmvn_b


def test_stage3_ivectors_identical(ref, run_b):
    for name in ("final.pca", "final.ubm", "final.ie"):
        a = torch.load(ref / "exp" / "ivector" / name, map_location="cpu")
        b = torch.load(run_b / "exp" / "ivector" / name, map_location="cpu")
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], torch.Tensor):
                np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=f"{name}:{k}")
            else:  # scalars such as the extractor's prior offset
                assert a[k] == b[k], f"{name}:{k}"
    for part in ("train", "dev", "test"):
        name = f"tedlium2_cuts_{part}_ivec.jsonl.gz"
        ia = cut_arrays(ref / "data" / "mfcc" / name, "ivector")
        ib = cut_arrays(run_b / "data" / "mfcc" / name, "ivector")
        assert len(ia) > 0 and all(v.ndim == 2 for v in ia.values())
        assert_arrays_equal(ia, ib)


def test_stage8_metrics_identical(ref, run_b):
    a = json.loads((ref / "exp" / "emotion" / "tdnnf12" / "metrics.json").read_text())
    b = json.loads((run_b / "exp" / "emotion" / "tdnnf12" / "metrics.json").read_text())
    assert a == b
    assert 0.0 <= a["ua"] <= 1.0 and a["n"] == a["num_utts"] > 0
