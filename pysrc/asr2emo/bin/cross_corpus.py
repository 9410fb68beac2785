"""Cross-corpus emotion recognition: the head trained on some corpora, tested on another.

Every corpus is ``NAME=BOTTLENECK_DIR`` (stage 7's, or emotion_folder.sh's, of the same acoustic
model and layer); ``--runs`` lists ``A->B`` and ``A+B->C`` runs; ``--label-maps`` maps each
corpus's labels onto ``--classes``. Writes under ``<exp-dir>``::

    <A+B>_to_<C>/{predictions.jsonl,metrics.json}   one per run
    cross_corpus.md, cross_corpus.json              every run beside the target's in-domain
                                                    (stage 8 cross-validation) UA

The head and its training are stage 8's (``--config`` = emotion.conf keys); see
:mod:`asr2emo.systems.cross_corpus`.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Dict

from asr2emo.emotion.settings import read_emotion_conf
from asr2emo.utils.config import ConfArgumentParser, str_list
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path, write_json
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("exp_dir", type=Path, help="output directory, e.g. exp/cross_corpus")
    p.add_argument(
        "--corpora",
        type=str_list,
        required=True,
        help="NAME=BOTTLENECK_DIR[=EMOTION_DIR],...: each corpus's stage-7 bottleneck (and its "
        "stage-8 dir, for the in-domain figure)",
    )
    p.add_argument("--runs", required=True, help="'A->B;B->A;A+B->C'")
    p.add_argument("--label-maps", required=True, help="'A=lab:class,...;B=lab:class,...'")
    p.add_argument("--classes", type=str_list, required=True, help="the common classes")
    p.add_argument("--layer", default="tdnnf12", help="bottleneck layer")
    p.add_argument("--emotion-config", default="", help="emotion.conf: the head and its training")
    p.add_argument("--num-threads", type=int, default=1, help="torch threads (CPU)")
    return p


def main(args: argparse.Namespace) -> int:
    import torch

    from asr2emo.emotion.data import load_frames
    from asr2emo.systems.cross_corpus import (
        parse_label_maps,
        parse_runs,
        relabel,
        run_cross,
        standardize,
    )

    setup_logging(args.exp_dir / "log" / "cross_corpus.log")
    torch.set_num_threads(max(1, args.num_threads))
    corpora: Dict[str, Path] = {}
    in_domain: Dict[str, Path] = {}
    for item in args.corpora:
        name, *paths = item.split("=")
        if not paths:
            raise UserError(f"--corpora entry '{item}': expected NAME=BOTTLENECK_DIR[=EMOTION_DIR]")
        corpora[name] = Path(paths[0])
        if len(paths) > 1:
            in_domain[name] = Path(paths[1])
    maps = parse_label_maps(args.label_maps)
    runs = parse_runs(args.runs)
    used = {c for srcs, tgt in runs for c in srcs + [tgt]}
    for c in sorted(used):
        if c not in corpora:
            raise UserError(f"--runs names corpus '{c}', not given in --corpora")
        if c not in maps:
            raise UserError(f"no label map for corpus '{c}' in --label-maps")
    cfg = read_emotion_conf(args.emotion_config).head
    data = {}
    for c in sorted(used):
        raw = load_frames(corpora[c] / args.layer / "cuts.jsonl.gz")
        data[c] = standardize(relabel(raw, maps[c], args.classes, c))
        logging.info("%s: %d utterances, %d frames", c, data[c].num_utts, int(data[c].offsets[-1]))
    rows = []
    for sources, target in runs:
        name = f"{'+'.join(sources)}_to_{target}"
        res = run_cross({s: data[s] for s in sources}, data[target], cfg)
        out = args.exp_dir / name
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "predictions.jsonl") as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in res.predictions))
        m = {**res.metrics, "sources": sources, "target": target, "val_speaker": res.val_speaker,
             "best_epoch": res.best_epoch, "layer": args.layer}  # fmt: skip
        write_json(out / "metrics.json", m)
        ind = in_domain.get(target)
        ind_m = ind / args.layer / "metrics.json" if ind is not None else None
        m["in_domain_ua"] = (
            json.loads(ind_m.read_text())["ua"] if ind_m is not None and ind_m.is_file() else None
        )
        rows.append(m)
        logging.info("%s: UA %.4f WA %.4f (%d utterances)", name, m["ua"], m["wa"], m["n"])
    write_json(args.exp_dir / "cross_corpus.json", {"classes": args.classes, "runs": rows})
    lines = [
        f"# Cross-corpus emotion recognition ({args.layer}, classes {', '.join(args.classes)})",
        "",
        "| train on | test on | UA % | WA % | in-domain UA % of the test corpus (stage 8 CV) |",
        "|---|---|---|---|---|",
    ]
    for m in rows:
        ind = "–" if m["in_domain_ua"] is None else f"{100 * m['in_domain_ua']:.1f}"
        lines.append(f"| {' + '.join(m['sources'])} | {m['target']} | {100 * m['ua']:.1f} | "
                     f"{100 * m['wa']:.1f} | {ind} |")  # fmt: skip
    lines += ["", "Each corpus standardized on its own frames; early stopping on one source "
              "speaker; the target corpus never seen in training."]  # fmt: skip
    with atomic_path(args.exp_dir / "cross_corpus.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return 0
