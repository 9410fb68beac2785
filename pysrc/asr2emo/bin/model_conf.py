"""Which conf directory an acoustic model was trained with: the first whose tdnnf.conf matches.

    asr2emo model-conf exp/tdnnf conf conf/mini     # prints e.g. conf/mini

Prints the first CONF_DIR whose ``tdnnf.conf`` describes the model's topology and exits 0; with
none matching, names the model's topology and exits 1. Recipes that reuse a finished acoustic
model (recipes/emotion_folder.sh) use it to pick, or check, their ``--conf-dir``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from asr2emo.model import resolve_checkpoint
from asr2emo.model.tdnnf import config_to_dict, read_model_config
from asr2emo.utils.config import ConfArgumentParser
from asr2emo.utils.errors import UserError


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model_dir", type=Path, help="acoustic model directory (final.pt) or checkpoint")
    p.add_argument("conf_dirs", nargs="+", type=Path, help="candidate conf directories")
    return p


def main(args: argparse.Namespace) -> int:
    ckpt = torch.load(resolve_checkpoint(args.model_dir), map_location="cpu")
    if "model_config" not in ckpt:
        raise UserError(f"'{args.model_dir}' is not a TDNN-F checkpoint written by train-lfmmi")
    have = ckpt["model_config"]
    for d in args.conf_dirs:
        conf = d / "tdnnf.conf"
        if conf.is_file() and config_to_dict(read_model_config(str(conf))) == have:
            print(d)
            return 0
    shape = f"{have.get('num_layers')} layers x {have.get('hidden_dim')}"
    raise UserError(
        f"the model in '{args.model_dir}' ({shape}) matches the tdnnf.conf of none of "
        f"{', '.join(map(str, args.conf_dirs))}; give --conf-dir"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(get_parser().parse_args()))
