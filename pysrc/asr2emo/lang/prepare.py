"""Build a lang directory from a lexicon and training transcripts (stage 1).

Writes, in ``lang_dir``: ``lexicon.txt``, ``lexicon_disambig.txt``, ``phones.txt``, ``words.txt``,
``L.pt``, ``L_disambig.pt`` (k2), ``P.arpa`` and ``P.pt`` (phone LM for the LF-MMI denominator),
``G.arpa``, ``G.fst.txt``, ``G.pt`` (word n-gram), ``HLG.pt`` and ``lang.json`` (what the trainer
and decoder need: ``num_outputs``, the topology, the symbols). ``.done`` is written last; the
files are built in a temporary directory and moved in, so a killed run never looks finished.

``topology="chain"`` adds ``pdf_map.txt`` (biphone pdfs tied by their counts in ``texts``,
:mod:`asr2emo.lang.biphone`); ``num_outputs`` is then the pdf count and ``HLG.pt`` holds HCLG,
H being the chain context + HMM transducer (:mod:`asr2emo.lang.chain_topo`). The file keeps the
decoder's name; ``lang.json`` says ``"decoding_graph": "HCLG"``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from asr2emo.lang.biphone import pdf_map_from_transcripts
from asr2emo.lang.chain_topo import chain_topo
from asr2emo.lang.graphs import compile_hlg, save_fsa
from asr2emo.lang.lexicon import (
    SIL,
    SPN,
    UNK,
    Lexicon,
    add_disambig_symbols,
    lexicon_entries,
    lexicon_fst,
    make_phone_table,
    make_word_table,
    write_lexicon_txt,
    write_symbol_table,
)
from asr2emo.lang.phone_lm import build_phone_lm
from asr2emo.lang.word_lm import arpa_to_fst_txt, build_word_arpa, load_G
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path
from asr2emo.utils.markers import make_record, needs_run, write_marker

TOPOLOGIES = ("ctc", "chain")


@dataclass(frozen=True)
class ChainOptions:
    """How ``--topology=chain`` ties its biphones (Kaldi ``prepare_e2e.sh --tie true``)."""

    min_biphone_count: int = 100
    min_monophone_count: int = 20
    ci_silence: bool = True  # SIL and SPN context independent (Kaldi: --ci-silence)


def prepare_lang_from_lexicon(
    lexicon: Dict[str, List[List[str]]],
    texts: Sequence[str],
    lang_dir: Path | str,
    sil_prob: float = 0.5,
    phone_lm_order: int = 2,
    word_lm_order: int = 3,
    seed: int = 0,
    build_hlg: bool = True,
    topology: str = "ctc",
    chain: Optional[ChainOptions] = None,
) -> Path:
    """Write a complete lang directory for ``lexicon`` (word -> pronunciations) and ``texts``.

    ``<unk> SPN`` is added when missing; words of ``texts`` outside the lexicon count as
    ``<unk>`` in P and G. Returns ``lang_dir``. The ``.done`` record holds the options and the
    sha1 of the lexicon and of the texts: a directory built from the same is left untouched,
    any other is rebuilt. ``chain`` (default :class:`ChainOptions`) is read with
    ``topology="chain"`` only.
    """
    lang_dir = Path(lang_dir)
    if topology not in TOPOLOGIES:
        raise UserError(f"--topology must be one of {', '.join(TOPOLOGIES)}, got '{topology}'")
    chain = (chain or ChainOptions()) if topology == "chain" else None
    digest = hashlib.sha1(json.dumps([sorted(lexicon.items()), list(texts)]).encode()).hexdigest()
    settings = dict(sil_prob=sil_prob, phone_lm_order=phone_lm_order, word_lm_order=word_lm_order)
    settings.update(seed=seed, build_hlg=build_hlg, lexicon_and_texts_sha1=digest)
    if chain is not None:  # a ctc lang keeps the record (and files) it always had
        settings.update(topology=topology, **asdict(chain))
    record = make_record("prepare-lang", settings, {})
    if not needs_run(lang_dir, record, f"lang dir {lang_dir}"):
        return lang_dir
    texts = [t for t in texts if t.split()]
    if not texts:
        raise UserError("no training transcripts to estimate the language models on")
    lexicon = {w: [list(p) for p in prons] for w, prons in lexicon.items()}
    lexicon.setdefault(UNK, [[SPN]])
    # Built in a temporary sibling, then moved in file by file (``lang_dir/log/`` is kept); only
    # ``.done`` says the directory is complete.
    with atomic_path(lang_dir.with_name(lang_dir.name + ".build")) as tmp:
        tmp.mkdir(parents=True)
        _build(tmp, lexicon, texts, sil_prob, phone_lm_order, word_lm_order, seed, build_hlg, chain)
        lang_dir.mkdir(parents=True, exist_ok=True)
        for f in sorted(tmp.iterdir()):
            os.replace(f, lang_dir / f.name)
    write_marker(lang_dir, record)
    return lang_dir


def _build(
    out: Path,
    lexicon: Lexicon,
    texts: Sequence[str],
    sil_prob: float,
    phone_lm_order: int,
    word_lm_order: int,
    seed: int,
    build_hlg: bool,
    chain: Optional[ChainOptions],
) -> None:
    t0 = time.time()
    entries = lexicon_entries(lexicon)
    entries_disambig, max_disambig = add_disambig_symbols(entries)
    phones = make_phone_table(entries, max_disambig)
    words = make_word_table(entries)
    write_lexicon_txt(out / "lexicon.txt", entries)
    write_lexicon_txt(out / "lexicon_disambig.txt", entries_disambig)
    write_symbol_table(out / "phones.txt", phones)
    write_symbol_table(out / "words.txt", words)
    L = lexicon_fst(entries, phones, words, sil_prob=sil_prob)
    L_disambig = lexicon_fst(entries_disambig, phones, words, sil_prob=sil_prob, disambig=True)
    save_fsa(L, out / "L.pt")
    save_fsa(L_disambig, out / "L_disambig.pt")
    logging.info(
        f"lexicon: {len(lexicon)} words, {len(entries)} pronunciations, "
        f"{phones['#0'] - 1} phones, disambiguation #0..#{max_disambig}"
    )

    p_lm, P = build_phone_lm(
        texts, lexicon, phones, order=phone_lm_order, sil_prob=sil_prob, seed=seed
    )
    p_lm.write_arpa(out / "P.arpa")
    save_fsa(P, out / "P.pt")
    logging.info(f"phone {phone_lm_order}-gram P: {P.shape[0]} states, {P.num_arcs} arcs")

    vocab = [w for w in words if w not in ("<eps>", "#0", "<s>", "</s>")]
    build_word_arpa(texts, vocab, out / "G.arpa", order=word_lm_order)
    arpa_to_fst_txt(out / "G.arpa", out / "words.txt", out / "G.fst.txt", order=word_lm_order)
    G = load_G(out / "G.fst.txt")
    save_fsa(G, out / "G.pt")
    logging.info(f"word {word_lm_order}-gram G: {G.shape[0]} states, {G.num_arcs} arcs")

    H = None
    if chain is not None:
        ci = [SIL, SPN] if chain.ci_silence else []
        pdf_map = pdf_map_from_transcripts(
            texts, lexicon, phones, chain.min_biphone_count, chain.min_monophone_count, ci
        )
        pdf_map.write(out / "pdf_map.txt", {i: s for s, i in phones.items()})
        H = chain_topo(pdf_map)
        logging.info(
            f"chain topology: {pdf_map.num_pdfs} pdfs, (left, phone) pairs by kind "
            f"{pdf_map.summary()} (--min-biphone-count={chain.min_biphone_count}, "
            f"--min-monophone-count={chain.min_monophone_count}); "
            f"H: {H.shape[0]} states, {H.num_arcs} arcs"
        )
    if build_hlg:
        HLG = compile_hlg(L_disambig, G, phones["#0"], words["#0"], H=H)
        save_fsa(HLG, out / "HLG.pt")
    info = {
        "topology": "ctc",
        "num_outputs": phones["#0"],  # blank (0) + real phones
        "blank_id": 0,
        "num_phones": phones["#0"] - 1,
        "num_words": len(vocab),
        "sil_phone": SIL,
        "unk_word": UNK,
        "sil_prob": sil_prob,
        "phone_lm_order": phone_lm_order,
        "word_lm_order": word_lm_order,
        "first_phone_disambig_id": phones["#0"],
        "first_word_disambig_id": words["#0"],
        "has_hlg": build_hlg,
    }
    if chain is not None:
        del info["blank_id"]
        info.update(topology="chain", num_outputs=pdf_map.num_pdfs, num_pdfs=pdf_map.num_pdfs)
        info.update(pdf_map="pdf_map.txt", decoding_graph="HCLG", **asdict(chain))
    (out / "lang.json").write_text(json.dumps(info, indent=2) + "\n")
    logging.info(f"lang built in {time.time() - t0:.1f} s")


def read_lang_info(lang_dir: Path | str) -> dict:
    path = Path(lang_dir) / "lang.json"
    if not path.is_file():
        raise UserError(f"'{lang_dir}' is not a lang directory (no lang.json); run stage 1")
    return json.loads(path.read_text())
