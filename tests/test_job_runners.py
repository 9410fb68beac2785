"""utils/run.pl and utils/slurm.pl, Kaldi's job-runner convention: the same arguments, per-job
logs with Kaldi's header and trailer, failures reported by job. slurm.pl runs against a real
single-node Slurm (Debian's slurm-wlm and munge) that the test starts as root; where it
cannot be started the test says why and is skipped. run.pl is always tested."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO

RUNNERS = {"run.pl": REPO / "utils" / "run.pl", "slurm.pl": REPO / "utils" / "slurm.pl"}


def _run(runner: str, *args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(RUNNERS[runner]), *args], capture_output=True, text=True, timeout=300, env=env
    )


def _check_runner(runner: str, tmp_path: Path, env=None) -> None:
    logs = tmp_path / runner / "log"
    r = _run(runner, "JOB=1:3", str(logs / "echo.JOB.log"), "echo", "job", "JOB", env=env)
    assert r.returncode == 0, r.stderr
    for j in (1, 2, 3):
        text = (logs / f"echo.{j}.log").read_text().splitlines()
        assert text[0] == f"# echo job {j}" and text[1].startswith("# Started at")
        assert f"job {j}" in text and text[-1].startswith("# Ended (code 0)")
    # one job of three fails: non-zero status, one line naming the count and the logs
    r = _run(runner, "--max-jobs-run", "2", "JOB=1:3", str(logs / "t.JOB.log"),
             "test", "JOB", "-ne", "2", env=env)  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.strip() == f"{runner}: 1 / 3 failed, log is in {logs / 't.JOB.log'}"
    assert "# Ended (code 1)" in (logs / "t.2.log").read_text()
    # a pipe given as "\|" and an argument with spaces kept as one word
    r = _run(runner, str(logs / "pipe.log"), "echo", "a b", "|", "tr", "a", "c", env=env)
    assert r.returncode == 0 and "c b" in (logs / "pipe.log").read_text().splitlines()
    r = _run(runner, "JOB=1:2", str(logs / "nojob.log"), "true", env=env)
    assert r.returncode == 1 and "must contain JOB" in r.stderr


def test_run_pl(tmp_path):
    _check_runner("run.pl", tmp_path)
    start = time.time()
    r = _run("run.pl", "JOB=1:2", str(tmp_path / "s.JOB.log"), "sleep", "1")
    assert r.returncode == 0 and time.time() - start < 1.9  # the jobs ran side by side


def _start_slurm(d: Path) -> dict:
    """A one-node Slurm (slurmctld + slurmd, munge auth) configured under ``d``; returns the
    environment its clients need. pytest.skip with the reason when it cannot start."""
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld/slurmd/munged needs root")
    if shutil.which("slurmctld") is None and shutil.which("apt-get"):
        r = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"],
            capture_output=True,
            text=True,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        )
        if r.returncode != 0:
            pytest.skip(f"cannot install slurm-wlm/munge: {r.stderr.strip()[-300:]}")
    for tool in ("slurmctld", "slurmd", "munged", "sbatch", "squeue"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not available")
    host = socket.gethostname().split(".")[0]
    (d / "state").mkdir(parents=True)
    (d / "spool").mkdir()
    conf = d / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=asr2emo-test",
                f"SlurmctldHost={host}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                f"StateSaveLocation={d}/state",
                f"SlurmdSpoolDir={d}/spool",
                f"SlurmctldPidFile={d}/slurmctld.pid",
                f"SlurmdPidFile={d}/slurmd.pid",
                f"SlurmctldLogFile={d}/slurmctld.log",
                f"SlurmdLogFile={d}/slurmd.log",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_Core",
                "ReturnToService=2",
                "MpiDefault=none",
                "JobCompType=jobcomp/none",
                "AccountingStorageType=accounting_storage/none",
                "SlurmctldPort=16817",
                "SlurmdPort=16818",
                f"NodeName={host} CPUs={os.cpu_count()} RealMemory=1000 State=UNKNOWN",
                "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            ]
        )
        + "\n"
    )
    env = dict(os.environ, SLURM_CONF=str(conf))
    munge_run = Path("/run/munge")
    munge_run.mkdir(exist_ok=True)
    shutil.chown(munge_run, "munge", "munge")
    ok = subprocess.run(["munge", "-n"], capture_output=True).returncode == 0
    if not ok:
        subprocess.run(["su", "-s", "/bin/sh", "munge", "-c", "munged"], capture_output=True)
    for daemon in ("slurmctld", "slurmd"):
        r = subprocess.run([daemon, "-f", str(conf)], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            pytest.skip(f"{daemon} did not start: {(r.stderr or r.stdout).strip()[-300:]}")
    for _ in range(30):
        r = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=env)
        if r.returncode == 0 and r.stdout.strip() in ("idle", "mixed"):
            return env
        time.sleep(1)
    pytest.skip(f"the Slurm node did not become idle (sinfo: {r.stdout.strip() or r.stderr})")


def _stop_slurm(d: Path) -> None:
    for name in ("slurmd", "slurmctld"):
        pid = d / f"{name}.pid"
        if pid.is_file():
            subprocess.run(["kill", pid.read_text().strip()], capture_output=True)


def test_slurm_pl_on_a_real_one_node_cluster(tmp_path):
    d = tmp_path / "slurm"
    try:
        env = _start_slurm(d)
        _check_runner("slurm.pl", tmp_path, env)
    finally:
        _stop_slurm(d)


def _tiny_manifests(d: Path) -> Path:
    """Six short real recordings (yes/no, 8 kHz) as a 'tiny' corpus with a train part."""
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

    from conftest import YESNO

    recs = [Recording.from_file(f) for f in sorted(YESNO.glob("*.wav"))[:6]]
    sups = [SupervisionSegment(f"{r.id}-0", r.id, 0, r.duration, speaker="s") for r in recs]
    d.mkdir(parents=True)
    RecordingSet.from_recordings(recs).to_file(d / "tiny_recordings_train.jsonl.gz")
    SupervisionSet.from_segments(sups).to_file(d / "tiny_supervisions_train.jsonl.gz")
    return d


def _records(path: Path, work: Path) -> list:
    from faults import jsonl_gz_records

    return jsonl_gz_records(path, work)


@pytest.mark.parametrize("runner", ["run.pl", "slurm.pl"])
def test_steps_through_a_runner_write_what_local_jobs_write(tmp_path, runner):
    """steps/make_mfcc.sh and steps/extract_ivectors.sh with --nj 2: through the runner and
    with local processes, the same cuts, features and i-vectors (storage paths included)."""
    from faults import assert_arrays_equal, cut_arrays

    env = None
    if runner == "slurm.pl":
        env = _start_slurm(tmp_path / "slurm")
    try:
        man = _tiny_manifests(tmp_path / "manifests")
        conf = REPO / "conf" / "mini" / "mfcc_hires.conf"
        iv_conf = tmp_path / "iv.conf"
        iv_conf.write_text("--num-gauss=8\n--ivector-dim=4\n--num-iters=2\n--num-iters-ubm=2\n")
        outs = {}
        for how in ("local", runner):
            work = tmp_path / how
            cmd = [] if how == "local" else ["--cmd", str(RUNNERS[runner])]
            mf = work / "mfcc"
            r = subprocess.run(
                ["steps/make_mfcc.sh", "--nj", "2", *cmd, "--config", str(conf),
                 "--speed-perturb", "true", str(man), "tiny", str(mf)],
                cwd=REPO, capture_output=True, text=True, env=env,
            )  # fmt: skip
            assert r.returncode == 0, r.stderr[-3000:]
            ivdir = tmp_path / "ivector"
            if how == "local":
                r = subprocess.run(
                    ["steps/train_ivector_extractor.sh", "--config", str(iv_conf),
                     str(mf / "tiny_cuts_train.jsonl.gz"), str(ivdir)],
                    cwd=REPO, capture_output=True, text=True,
                )  # fmt: skip
                assert r.returncode == 0, r.stderr[-3000:]
            r = subprocess.run(
                ["steps/extract_ivectors.sh", "--nj", "2", *cmd, str(ivdir),
                 str(mf / "tiny_cuts_train.jsonl.gz"), str(mf / "tiny_cuts_train_ivec.jsonl.gz")],
                cwd=REPO, capture_output=True, text=True, env=env,
            )  # fmt: skip
            assert r.returncode == 0, r.stderr[-3000:]
            outs[how] = work
        a, b = outs["local"], outs[runner]
        for name in ("tiny_cuts_train.jsonl.gz", "tiny_cuts_train_ivec.jsonl.gz"):
            assert _records(a / "mfcc" / name, a) == _records(b / "mfcc" / name, b), name
        mf_a, mf_b = a / "mfcc", b / "mfcc"
        assert_arrays_equal(cut_arrays(mf_a / "tiny_cuts_train.jsonl.gz"),
                            cut_arrays(mf_b / "tiny_cuts_train.jsonl.gz"))  # fmt: skip
        assert_arrays_equal(
            cut_arrays(mf_a / "tiny_cuts_train_ivec.jsonl.gz", "ivector"),
            cut_arrays(mf_b / "tiny_cuts_train_ivec.jsonl.gz", "ivector"),
        )
        assert (mf_a / "tiny_cmvn.json").read_text() == (mf_b / "tiny_cmvn.json").read_text()
        # every job left its own Kaldi-style log
        logs = sorted(p.name for p in (mf_b / "log").glob("mfcc_tiny_train.*.log"))
        assert logs == ["mfcc_tiny_train.1.log", "mfcc_tiny_train.2.log"]
    finally:
        if runner == "slurm.pl":
            _stop_slurm(tmp_path / "slurm")


def test_decode_and_bottleneck_jobs_write_what_one_job_writes(yesno_tdnnf, tmp_path):
    """steps/decode.sh and steps/extract_bottleneck.sh with --nj 3, in local processes and
    through run.pl: the hypotheses, the WER and every bottleneck array equal one job's."""
    import numpy as np
    from lhotse import CutSet

    exp, work = yesno_tdnnf, yesno_tdnnf.parent
    cuts = work / "test.jsonl.gz"
    dconf = tmp_path / "decode.conf"
    dconf.write_text("--require-ivectors=false\n--max-duration=20\n")
    bconf = tmp_path / "bottleneck.conf"
    bconf.write_text("--layers=tdnnf5,prefinal\n--storage=numpy\n--require-ivectors=false\n")
    ways = {"one": ["--nj", "1"], "local": ["--nj", "3"],
            "run.pl": ["--nj", "3", "--cmd", str(RUNNERS["run.pl"])]}  # fmt: skip
    for how, opts in ways.items():
        r = subprocess.run(
            ["steps/decode.sh", *opts, "--config", str(dconf), str(exp), str(work / "lang"),
             str(cuts), str(tmp_path / how / "decode")],
            cwd=REPO, capture_output=True, text=True,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr[-3000:]
        r = subprocess.run(
            ["steps/extract_bottleneck.sh", *opts, "--config", str(bconf), str(exp), str(cuts),
             str(tmp_path / how / "bottleneck")],
            cwd=REPO, capture_output=True, text=True,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr[-3000:]
    ref = tmp_path / "one"
    assert len((ref / "decode" / "hyp.txt").read_text().splitlines()) == 30
    ref_arrays = {
        layer: {c.id: c.load_custom("bottleneck")
                for c in CutSet.from_file(ref / "bottleneck" / layer / "cuts.jsonl.gz")}
        for layer in ("tdnnf5", "prefinal")
    }  # fmt: skip
    for how in ("local", "run.pl"):
        for name in ("hyp.txt", "errs.txt", "wer.txt"):
            a = (ref / "decode" / name).read_text()
            assert (tmp_path / how / "decode" / name).read_text() == a, (how, name)
        for layer, arrays in ref_arrays.items():
            got = CutSet.from_file(tmp_path / how / "bottleneck" / layer / "cuts.jsonl.gz")
            assert [c.id for c in got] == list(arrays), (how, layer)  # same order
            for c in got:
                np.testing.assert_array_equal(c.load_custom("bottleneck"), arrays[c.id])
    logs = sorted(p.name for p in (tmp_path / "run.pl" / "decode").glob("**/decode.*.log"))
    assert logs == ["decode.1.log", "decode.2.log", "decode.3.log"], logs
