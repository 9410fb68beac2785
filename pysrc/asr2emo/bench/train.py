"""Benchmark: TDNN-F LF-MMI training throughput (input frames/s), 1 and 2 processes, 1 thread.

Paper size (conf/tdnnf.conf) and demo size (conf/mini/tdnnf.conf), full training steps (forward,
LF-MMI loss of asr2emo.lfmmi with numerator and denominator, backward, Adam). The lang is a
seeded synthetic one with TED-LIUM's 39 phones and 2000 sentences, its phone LM P of the order
each size's conf builds (conf/lang.conf: trigram; conf/mini/lang.conf: bigram), since the
denominator is a large share of a step; the den graph's size and the denominator's share of
the step time (its forward-backward alone, on the same network output) are reported. Inputs
are seeded random features: the cost does not depend on their values. Batch per process: 8
utterances of 10 s. Two processes: DistributedDataParallel over gloo on CPU, as
``train-lfmmi`` under torchrun; each process times the same number of steps after a warm-up step
(gradients all-reduced every step); aggregate frames/s = both processes' frames / the slower
one's time. On a 2-core machine 2 processes give at most 2x.
"""

from __future__ import annotations

import json
import os
import random
import socket
import tempfile
import time
from pathlib import Path
from typing import Dict

import torch

from asr2emo.lfmmi.graph_compiler import MmiGraphCompiler
from asr2emo.lfmmi.loss import LfMmiLoss
from asr2emo.model.tdnnf import TdnnfModel, read_model_config
from asr2emo.model.trainer import supervision_segments

REPO = Path(__file__).resolve().parents[3]


def synthetic_lang(
    lang_dir: Path,
    phone_lm_order: int,
    num_phones: int = 39,
    num_words: int = 2000,
    num_sentences: int = 2000,
    seed: int = 0,
):
    """A lang directory with random 3-6 phone words, random 10-20 word sentences and a phone LM
    of ``phone_lm_order``; returns the sentences."""
    from asr2emo.lang.prepare import prepare_lang_from_lexicon

    rng = random.Random(seed)
    phones = [f"P{i}" for i in range(num_phones)]
    lexicon = {
        f"W{i}": [[rng.choice(phones) for _ in range(rng.randint(3, 6))]] for i in range(num_words)
    }
    words = sorted(lexicon)
    texts = [
        " ".join(rng.choice(words) for _ in range(rng.randint(10, 20)))
        for _ in range(num_sentences)
    ]
    prepare_lang_from_lexicon(
        lexicon, texts, lang_dir, phone_lm_order=phone_lm_order, build_hlg=False
    )
    return texts


def conf_value(conf: Path, key: str) -> str:
    """The value of ``--key=value`` in a Kaldi-style conf file (comments stripped)."""
    for line in conf.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith(f"--{key}="):
            return line.split("=", 1)[1]
    raise KeyError(f"{key} not in {conf}")


def measure(
    conf: Path,
    lang_dir: Path,
    texts,
    steps: int,
    utts: int = 8,
    frames: int = 1000,
    distributed: bool = False,
) -> Dict:
    torch.manual_seed(0)
    loss_fn = LfMmiLoss(MmiGraphCompiler(lang_dir))
    model = TdnnfModel(read_model_config(conf), loss_fn.graph_compiler.num_outputs).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    feats = torch.randn(utts, frames, 40)
    ivecs = torch.randn(utts, frames // 10, model.config.ivector_dim)
    lens = torch.full((utts,), frames)
    batch_texts = [" ".join(texts[i].split()[:12]) for i in range(utts)]

    def step():
        log_probs, out_lens = net(feats, ivecs, lens)
        segs, order = supervision_segments(out_lens)
        loss, info = loss_fn(log_probs, segs, [batch_texts[i] for i in order.tolist()])
        opt.zero_grad()
        (loss / info["frames"]).backward()
        opt.step()

    def den_only():
        """The denominator's forward-backward alone on this batch's network output."""
        import k2

        with torch.no_grad():
            log_probs, out_lens = model(feats, ivecs, lens)
        x = log_probs.detach().requires_grad_()
        segs, _ = supervision_segments(out_lens)
        den = loss_fn.graph_compiler.compile(batch_texts)[1]
        graphs = k2.index_fsa(den, torch.zeros(utts, dtype=torch.int32))
        loss_fn._tot_scores(graphs, k2.DenseFsaVec(x, segs)).sum().backward()

    step()  # warm-up
    if distributed:
        torch.distributed.barrier()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {
        "params": model.num_params(),
        "frames_per_s": round(steps * utts * frames / elapsed, 1),
        # CPU time of this process: the figure without other jobs on a shared machine.
        "frames_per_cpu_s": round(steps * utts * frames / cpu, 1),
        "s_per_batch": round(elapsed / steps, 3),
    }
    if not distributed:
        den = loss_fn.graph_compiler.compile(batch_texts[:1])[1]
        t0 = time.perf_counter()
        for _ in range(steps):
            den_only()
        out["den_share"] = round((time.perf_counter() - t0) / elapsed, 3)
        shape = den.arcs.shape()  # an FsaVec of one FSA: states are axis 1
        states = shape.tot_size(1) if shape.num_axes == 3 else shape.dim0
        out["den_graph"] = {"states": int(states), "arcs": int(den.num_arcs)}
    return out


def _ddp_worker(rank: int, world: int, port: int, conf: str, lang: str, steps: int, out: str):
    """One process of the 2-process run (torch.multiprocessing.spawn target)."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    texts = (Path(lang) / "texts.txt").read_text().splitlines()
    r = measure(Path(conf), Path(lang), texts, steps, distributed=True)
    Path(out, f"rank{rank}.json").write_text(json.dumps(r))
    dist.barrier()
    dist.destroy_process_group()


def measure_ddp(conf: Path, lang_dir: Path, steps: int, world: int = 2) -> Dict:
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as out:
        mp.spawn(
            _ddp_worker,
            args=(world, port, str(conf), str(lang_dir), steps, out),
            nprocs=world,
            join=True,
        )
        ranks = [json.loads(Path(out, f"rank{r}.json").read_text()) for r in range(world)]
    per_proc = min(r["frames_per_s"] for r in ranks)
    return {
        "frames_per_s": round(world * per_proc, 1),
        "per_process_frames_per_s": [r["frames_per_s"] for r in ranks],
        # Per CPU second: lower than 1 process's only by the all-reduce work, not by waiting
        # for a core that another job holds.
        "per_process_frames_per_cpu_s": [r["frames_per_cpu_s"] for r in ranks],
        "s_per_batch": max(r["s_per_batch"] for r in ranks),
    }


def run(quick: bool = False) -> dict:
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    paper_conf, demo_conf = REPO / "conf" / "tdnnf.conf", REPO / "conf" / "mini" / "tdnnf.conf"
    paper_steps, demo_steps = (1, 2) if quick else (3, 6)
    with tempfile.TemporaryDirectory() as tmp:
        langs = {}
        for name, conf_dir in (("paper", REPO / "conf"), ("demo", REPO / "conf" / "mini")):
            order = int(conf_value(conf_dir / "lang.conf", "phone-lm-order"))
            lang = Path(tmp) / f"lang_{name}"
            texts = synthetic_lang(lang, order)
            (lang / "texts.txt").write_text("\n".join(texts) + "\n")
            langs[name] = (lang, texts, order)
        paper = measure(paper_conf, langs["paper"][0], langs["paper"][1], steps=paper_steps)
        demo = measure(demo_conf, langs["demo"][0], langs["demo"][1], steps=demo_steps)
        paper2 = measure_ddp(paper_conf, langs["paper"][0], paper_steps)
        demo2 = measure_ddp(demo_conf, langs["demo"][0], demo_steps)
        paper["phone_lm_order"], demo["phone_lm_order"] = langs["paper"][2], langs["demo"][2]
    for one, two in ((paper, paper2), (demo, demo2)):
        two["speedup"] = round(two["frames_per_s"] / one["frames_per_s"], 2)
    return {
        "figure": paper["frames_per_s"],
        "unit": "train frames/s, paper size, 1 process",
        "paper_1proc": paper,
        "paper_2proc": paper2,
        "demo_1proc": demo,
        "demo_2proc": demo2,
        "batch": "8 x 10 s utterances per process; 100 input frames = 1 s",
        "threads_per_process": 1,
    }
