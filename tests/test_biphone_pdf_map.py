"""The chain topology's biphone pdf map: counts, Kaldi's tying order, the files of a chain lang."""

from __future__ import annotations

import json
import subprocess

import pytest
from lhotse import SupervisionSegment, SupervisionSet

from asr2emo.lang import prepare_lang_from_lexicon
from asr2emo.lang.biphone import (
    NO_LEFT,
    biphone_counts,
    build_pdf_map,
    pdf_map_from_transcripts,
    pdf_sequence,
    read_pdf_map,
)
from asr2emo.lang.lexicon import read_symbol_table
from asr2emo.lang.prepare import ChainOptions
from asr2emo.utils.errors import UserError

# Phone ids as a lang directory numbers them: <eps>=0, then sorted real phones.
PHONES = {"<eps>": 0, "A": 1, "B": 2, "SIL": 3, "SPN": 4, "#0": 5}
A, B, SIL, SPN = 1, 2, 3, 4
LEXICON = {"ab": [["A", "B"]], "ba": [["B", "A"]], "a": [["A"]], "<unk>": [["SPN"]]}
# Phone strings: A B B A / A B / A A B (first pronunciations, no silence).
TEXTS = ["ab ba", "ab", "a ab"]


def test_counts_by_hand():
    bi, mono = biphone_counts([[A, B, B, A], [A, B], [A, A, B]])
    assert bi == {(NO_LEFT, A): 3, (A, B): 3, (B, B): 1, (B, A): 1, (A, A): 1}
    assert mono == {A: 5, B: 4}


def test_tying_in_kaldi_order():
    """gmm-init-biphone with --min-biphone-count=2 --min-monophone-count=4 and SIL, SPN CI:
    CI pairs first, then per phone its no-left pair and one pair per left phone: (A, B) has 3
    counts (own pair); A's other contexts share A's monophone pair (A seen 5 > 4 times); (B, B)
    reverts to the zerophone pair (B seen only 4 times)."""
    m = pdf_map_from_transcripts(TEXTS, LEXICON, PHONES, 2, 4, ci_phones=["SIL", "SPN"])
    assert m.num_pdfs == 14
    assert m.pdfs(NO_LEFT, SIL) == m.pdfs(A, SIL) == m.pdfs(SPN, SIL) == (0, 1)
    assert m.pdfs(B, SPN) == (2, 3)
    assert m.pdfs(NO_LEFT, A) == m.pdfs(SIL, A) == m.pdfs(SPN, A) == (4, 5)
    assert m.pdfs(A, A) == m.pdfs(B, A) == (6, 7)
    assert m.pdfs(NO_LEFT, B) == m.pdfs(SIL, B) == (8, 9)
    assert m.pdfs(A, B) == (10, 11)
    assert m.pdfs(B, B) == (12, 13)
    assert m.kinds[(A, B)] == "biphone" and m.kinds[(B, A)] == "mono"
    assert m.kinds[(B, B)] == "zero" and m.kinds[(SIL, B)] == "no-left"
    assert m.context_after(SIL) == NO_LEFT and m.context_after(B) == B
    assert len(m.table) == 5 * 4  # every (left in {0} + phones, phone)
    # the frames of A(1) B(2) SIL(1) B(2): B after SIL sees no left context
    assert pdf_sequence(m, [A, B, SIL, B], [1, 2, 1, 2]) == [4, 10, 11, 0, 8, 9]


def test_full_tree_and_thresholds():
    full = build_pdf_map([A, B, SIL, SPN], ci_phones=[SIL, SPN])
    assert full.num_pdfs == 2 * 2 + 2 * 2 * (1 + 2)  # CI pairs + (no-left + 2 lefts) x 2 phones
    assert full.summary() == {"biphone": 4, "ci": 10, "no-left": 6, "pdfs": 16}
    no_ci = build_pdf_map([A, B])  # Kaldi without --ci-phones: 2 phones x 3 contexts x 2
    assert no_ci.num_pdfs == 12 and no_ci.pdfs(B, A) != no_ci.pdfs(A, A)
    # count 0 for everything: all non-initial contexts fall to one zerophone pair
    zero = build_pdf_map([A, B], bi_counts={}, mono_counts={})
    assert zero.num_pdfs == 6 and zero.pdfs(A, B) == zero.pdfs(B, A) == (2, 3)
    with pytest.raises(UserError, match="context-independent"):
        build_pdf_map([A, B], ci_phones=[7])
    with pytest.raises(UserError, match=">= 0"):
        build_pdf_map([A, B], bi_counts={}, mono_counts={}, min_biphone_count=-1)


def test_write_read_round_trip(tmp_path):
    m = pdf_map_from_transcripts(TEXTS, LEXICON, PHONES, 2, 4, ci_phones=["SIL", "SPN"])
    path = tmp_path / "pdf_map.txt"
    m.write(path, {i: s for s, i in PHONES.items()})
    assert path.read_text().splitlines()[0] == "# num-pdfs 14 ci-phones SIL SPN"
    assert "A B 10 11 biphone" in path.read_text().splitlines()
    assert read_pdf_map(path, PHONES) == m
    with pytest.raises(UserError, match="does not exist"):
        read_pdf_map(tmp_path / "nope.txt", PHONES)
    path.write_text("# num-pdfs 14 ci-phones\nA B 10\n")
    with pytest.raises(UserError, match="bad pdf map line"):
        read_pdf_map(path, PHONES)


def test_chain_lang_dir(tmp_path):
    ctc = prepare_lang_from_lexicon(LEXICON, TEXTS, tmp_path / "ctc", phone_lm_order=2)
    chain = prepare_lang_from_lexicon(
        LEXICON, TEXTS, tmp_path / "chain", phone_lm_order=2, topology="chain",
        chain=ChainOptions(min_biphone_count=2, min_monophone_count=4),
    )  # fmt: skip
    info = json.loads((chain / "lang.json").read_text())
    assert info["topology"] == "chain" and info["num_outputs"] == info["num_pdfs"] == 14
    assert info["decoding_graph"] == "HCLG" and "blank_id" not in info
    table = read_symbol_table(chain / "phones.txt")
    assert {s: i for s, i in table.items() if i < PHONES["#0"]} == {
        s: i for s, i in PHONES.items() if i < PHONES["#0"]
    }
    assert read_pdf_map(chain / "pdf_map.txt", PHONES).num_pdfs == 14
    # a ctc lang directory is what it always was: no new keys, files or record entries
    ctc_info = json.loads((ctc / "lang.json").read_text())
    assert ctc_info["topology"] == "ctc" and ctc_info["num_outputs"] == 5
    assert "num_pdfs" not in ctc_info and not (ctc / "pdf_map.txt").exists()
    assert "topology" not in json.loads((ctc / ".done").read_text())["config"]
    assert json.loads((chain / ".done").read_text())["config"]["min_biphone_count"] == 2
    with pytest.raises(UserError, match="--topology must be"):
        prepare_lang_from_lexicon(LEXICON, TEXTS, tmp_path / "x", topology="hmm")


def test_prepare_lang_sh_chain(tmp_path, repo):
    """The stage-1 step with a chain conf: pdf map and lang.json; a bad value is one line."""
    corpus = tmp_path / "TEDLIUM_release2"
    corpus.mkdir()
    (corpus / "TEDLIUM.152k.dic").write_text("ab A B\nba B A\na A\n")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    SupervisionSet.from_segments(
        SupervisionSegment(f"s{i}", f"r{i}", 0.0, 1.0, text=t) for i, t in enumerate(TEXTS)
    ).to_file(manifests / "tedlium2_supervisions_train.jsonl.gz")
    conf = tmp_path / "lang.conf"
    conf.write_text(
        "--vocab=train\n--phone-lm-order=2\n--topology=chain  # biphones\n"
        "--min-biphone-count=2\n--min-monophone-count=4\n--ci-silence=true\n"
    )
    out = tmp_path / "lang"
    cmd = ["local/prepare_lang.sh", "--config", str(conf), str(corpus), str(manifests), str(out)]
    r = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((out / "lang.json").read_text())["num_outputs"] == 14
    assert "chain topology: 14 pdfs" in (out / "log" / "prepare_lang.log").read_text()
    conf.write_text("--topology=hmm\n")
    r = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    assert r.returncode != 0 and "--topology" in r.stderr and "Traceback" not in r.stderr
