"""Stage 1: lexicon, phones, L, phone LM P, word n-gram G and HLG from a CMU-style dictionary.

Reads ``DICT`` (``TEDLIUM.152k.dic`` layout: ``word PH PH ...``, alternatives ``word(2) ...``) and
the training transcripts ``MANIFEST_DIR/<corpus>_supervisions_train.jsonl.gz`` (lhotse, ``text``),
writes ``LANG_DIR`` (see :mod:`asr2emo.lang.prepare`) with ``.done`` last; rebuilds it when the
dictionary, the transcripts or an option changed. With ``--topology=chain`` it also writes the
biphone pdf map (tied by counts in the training transcripts), and HLG.pt is HCLG over its pdfs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lhotse import SupervisionSet

from asr2emo.lang.lexicon import read_cmu_dict, restrict_lexicon
from asr2emo.lang.prepare import TOPOLOGIES, ChainOptions, prepare_lang_from_lexicon
from asr2emo.utils.config import ConfArgumentParser, str2bool
from asr2emo.utils.errors import UserError
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--corpus", default="tedlium2", help="manifest prefix <corpus>_supervisions_train"
    )
    p.add_argument(
        "--vocab",
        choices=["train", "all"],
        default="all",
        help="lexicon words: 'all' dictionary words (Kaldi tedlium) or only those in training text",
    )
    p.add_argument("--sil-prob", type=float, default=0.5, help="optional-silence probability in L")
    p.add_argument("--phone-lm-order", type=int, default=3, help="order of the phone LM P")
    p.add_argument("--word-lm-order", type=int, default=3, help="order of the word LM G")
    p.add_argument("--seed", type=int, default=0, help="seed of the silence insertion for P")
    p.add_argument("--build-hlg", type=lambda v: v == "true", default=True, help="true|false")
    p.add_argument(
        "--topology",
        choices=list(TOPOLOGIES),
        default="ctc",
        help="network outputs: ctc (phones + blank) or chain (biphone pdfs, Kaldi e2e chain)",
    )
    d = ChainOptions()
    p.add_argument(
        "--min-biphone-count",
        type=int,
        default=d.min_biphone_count,
        help="chain: a rarer biphone of the training text shares its monophone's pdfs",
    )
    p.add_argument(
        "--min-monophone-count",
        type=int,
        default=d.min_monophone_count,
        help="chain: a phone seen no more often shares one global pdf pair",
    )
    p.add_argument(
        "--ci-silence",
        type=str2bool,
        default=d.ci_silence,
        help="chain: SIL and SPN context independent",
    )
    p.add_argument("--log-file", default=None, help="also log to this file")
    p.add_argument("dict", type=Path, help="CMU-style dictionary (TEDLIUM.152k.dic)")
    p.add_argument("manifest_dir", type=Path, help="directory with the supervision manifests")
    p.add_argument("lang_dir", type=Path, help="output lang directory")
    return p


def main(args) -> int:
    setup_logging(args.log_file)
    sup_path = args.manifest_dir / f"{args.corpus}_supervisions_train.jsonl.gz"
    if not sup_path.is_file():
        raise UserError(f"training supervisions '{sup_path}' do not exist; run stage 0")
    texts = [s.text for s in SupervisionSet.from_file(sup_path) if s.text]
    logging.info(f"{len(texts)} training transcripts from {sup_path}")
    full = read_cmu_dict(args.dict)
    lexicon, oov = restrict_lexicon(full, texts, vocab=args.vocab)
    if oov:
        top = sorted(oov.items(), key=lambda x: -x[1])[:20]
        logging.warning(
            f"{len(oov)} training words ({sum(oov.values())} tokens) not in {args.dict} -> <unk>; "
            f"most frequent: {' '.join(f'{w}:{c}' for w, c in top)}"
        )
    prepare_lang_from_lexicon(
        lexicon,
        texts,
        args.lang_dir,
        sil_prob=args.sil_prob,
        phone_lm_order=args.phone_lm_order,
        word_lm_order=args.word_lm_order,
        seed=args.seed,
        build_hlg=args.build_hlg,
        topology=args.topology,
        chain=ChainOptions(args.min_biphone_count, args.min_monophone_count, args.ci_silence),
    )
    return 0
