"""Stage 1: lexicon, L/L_disambig, the Witten-Bell n-grams (ARPA), the phone LM P, G and HLG."""

from __future__ import annotations

import math
import subprocess
from collections import defaultdict
from pathlib import Path

import k2
import pytest
import torch
from lhotse import SupervisionSegment, SupervisionSet

from asr2emo.lang import prepare_lang_from_lexicon
from asr2emo.lang.graphs import load_fsa
from asr2emo.lang.lexicon import (
    read_cmu_dict,
    read_lexicon_txt,
    read_symbol_table,
    restrict_lexicon,
)
from asr2emo.lang.ngram import WittenBellLM

LEXICON = {
    "a": [["AH"], ["EY"]],
    "the": [["DH", "AH"], ["DH", "IY"]],
    "cat": [["K", "AE", "T"]],
    "cats": [["K", "AE", "T", "S"]],
    "sat": [["S", "AE", "T"]],
    "mat": [["M", "AE", "T"]],
    "on": [["AA", "N"]],
}
TEXTS = ["the cat sat", "a cat sat on the mat", "the cats sat", "the cat sat on a mat", "a dog sat"]


@pytest.fixture(scope="module")
def lang(tmp_path_factory) -> Path:
    return prepare_lang_from_lexicon(
        LEXICON, TEXTS, tmp_path_factory.mktemp("lang") / "lang", phone_lm_order=3
    )


def read_arpa(path: Path):
    """Independent ARPA reader: {ngram tuple: (log10 p, log10 bow)}."""
    table = {}
    order = 0
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("\\") and line.endswith("-grams:"):
            order = int(line[1:].split("-")[0])
            continue
        if not line or line.startswith("\\") or line.startswith("ngram") or order == 0:
            continue
        f = line.split("\t")
        words = tuple(f[1].split())
        assert len(words) == order
        table[words] = (float(f[0]), float(f[2]) if len(f) > 2 else 0.0)
    return table


def arpa_prob(table, word, hist) -> float:
    """Back-off semantics: explicit if listed, else bow(hist) * p(word | hist[1:])."""
    hist = tuple(hist)
    if hist + (word,) in table:
        return 10 ** table[hist + (word,)][0]
    if not hist:
        return 0.0
    bow = 10 ** table[hist][1] if hist in table else 1.0
    return bow * arpa_prob(table, word, hist[1:])


def test_witten_bell_hand_computed():
    # Sentences "a b" and "a a", vocabulary {a, b}: predicted tokens a:3 b:1 </s>:2 (6, 3 types).
    lm = WittenBellLM([["a", "b"], ["a", "a"]], ["a", "b"], order=2)
    assert lm.prob("a", []) == pytest.approx((3 + 3 / 3) / (6 + 3))
    # history "a": followers b, a, </s> (c=3, T=3); p(b|a) = (1 + 3 * p1(b)) / 6, p1(b) = 2/9
    assert lm.prob("b", ["a"]) == pytest.approx((1 + 3 * 2 / 9) / 6)
    assert lm.prob("b", ["b"]) == pytest.approx((0 + 1 * 2 / 9) / 2)  # b -> </s> only


def test_arpa_sums_to_one(lang):
    table = read_arpa(lang / "G.arpa")
    words = [w for (w,) in (k for k in table if len(k) == 1) if w != "<s>"]
    assert "</s>" in words and "<unk>" in words and "dog" not in words
    for hist in [("<s>",), ("the",), ("<s>", "the"), ("cat", "sat"), ("mat", "a"), ("sat", "the")]:
        total = sum(arpa_prob(table, w, hist) for w in words)
        assert total == pytest.approx(1.0, abs=1e-4), hist


def test_lexicon_files(lang):
    words = read_symbol_table(lang / "words.txt")
    phones = read_symbol_table(lang / "phones.txt")
    assert words["<eps>"] == 0 and phones["<eps>"] == 0
    assert {"#0", "<s>", "</s>", "<unk>", "cat"} <= set(words)
    assert {"SIL", "SPN", "#0", "#1"} <= set(phones)
    lex = read_lexicon_txt(lang / "lexicon_disambig.txt")
    assert lex["cat"] == [["K", "AE", "T", "#1"]]  # prefix of "cats"
    assert sorted(lex["a"]) == [["AH"], ["EY"]]  # unique, prefix of no other pronunciation
    assert read_lexicon_txt(lang / "lexicon.txt")["<unk>"] == [["SPN"]]


def _word_seq_total(L: k2.Fsa, word_ids) -> float:
    L_inv = k2.arc_sort(L.invert())
    fsa = k2.add_epsilon_self_loops(k2.linear_fsa(word_ids))
    out = k2.top_sort(k2.connect(k2.intersect(L_inv, fsa, treat_epsilons_specially=False)))
    return float(out.get_tot_scores(log_semiring=True, use_double_scores=True))


def test_L_weights_are_a_distribution_over_silence(lang):
    """For a word sequence, L's phone paths sum to (#pronunciation combinations): silence
    options are probabilities that sum to one at every word boundary."""
    L = load_fsa(lang / "L.pt")
    words = read_symbol_table(lang / "words.txt")
    assert _word_seq_total(L, [[words["cat"], words["sat"]]]) == pytest.approx(0.0, abs=1e-5)
    assert _word_seq_total(L, [[words["the"], words["cat"]]]) == pytest.approx(
        math.log(2), abs=1e-5
    )
    L_d = load_fsa(lang / "L_disambig.pt")
    phones = read_symbol_table(lang / "phones.txt")
    assert int((L_d.labels == phones["#0"]).sum()) > 0
    assert int((L.labels >= phones["#0"]).sum()) == 0


def test_P_is_stochastic_and_matches_arpa(lang):
    P = load_fsa(lang / "P.pt")
    phones = read_symbol_table(lang / "phones.txt")
    src = P.arcs.values()[:, 0]
    per_state = defaultdict(list)
    for s, score in zip(src.tolist(), P.scores.tolist()):
        per_state[s].append(score)
    assert len(per_state) == P.shape[0] - 1
    for s, scores in per_state.items():
        assert math.exp(torch.logsumexp(torch.tensor(scores, dtype=torch.float64), 0)) == (
            pytest.approx(1.0, abs=1e-4)
        ), s
    assert int(P.labels[P.labels > 0].max()) < phones["#0"]  # no disambiguation symbols
    # the score of one phone string through P equals the ARPA's back-off probability
    table = read_arpa(lang / "P.arpa")
    seq = ["SIL", "DH", "AH", "K", "AE", "T", "S", "AE", "T", "SIL", "EY"]
    ref = 0.0
    hist = ["<s>"]
    for p in seq + ["</s>"]:
        ref += math.log(arpa_prob(table, p, hist[-2:]))
        hist.append(p)
    lin = k2.linear_fsa([[phones[p] for p in seq]])
    got = k2.intersect(k2.arc_sort(P), lin, treat_epsilons_specially=False)
    assert float(got.get_tot_scores(log_semiring=True, use_double_scores=True)) == pytest.approx(
        ref, abs=1e-3
    )


def test_G_and_HLG(lang):
    G = load_fsa(lang / "G.pt")
    words = read_symbol_table(lang / "words.txt")
    assert int((G.labels == words["#0"]).sum()) > 0  # back-off arcs
    HLG = load_fsa(lang / "HLG.pt")
    assert HLG.num_arcs > 0 and HLG.shape[0] > 2
    assert (
        int(HLG.labels.max())
        == len([p for p in read_symbol_table(lang / "phones.txt") if not p.startswith("#")]) - 1
    )
    assert (lang / ".done").is_file() and (lang / "lang.json").is_file()


def test_read_cmu_dict_and_restrict(tmp_path):
    dic = tmp_path / "x.dic"
    dic.write_text("a AH\na(2) EY\n<s> SIL\nthe DH AH0\ncat K AE T\n")
    lex = read_cmu_dict(dic)
    assert lex == {"a": [["AH"], ["EY"]], "the": [["DH", "AH"]], "cat": [["K", "AE", "T"]]}
    small, oov = restrict_lexicon(lex, ["a dog", "a"], vocab="train")
    assert set(small) == {"a", "<unk>"} and oov == {"dog": 1} and small["<unk>"] == [["SPN"]]
    full, _ = restrict_lexicon(lex, ["a dog"], vocab="all")
    assert set(full) == {"a", "the", "cat", "<unk>"}


def test_prepare_lang_sh(tmp_path, repo):
    corpus = tmp_path / "TEDLIUM_release2"
    corpus.mkdir()
    (corpus / "TEDLIUM.152k.dic").write_text(
        "".join(
            f"{w}{'' if i == 0 else f'({i + 1})'} {' '.join(p)}\n"
            for w, ps in LEXICON.items()
            for i, p in enumerate(ps)
        )
    )
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    sups = SupervisionSet.from_segments(
        SupervisionSegment(f"s{i}", f"r{i}", 0.0, 1.0, text=t) for i, t in enumerate(TEXTS)
    )
    sups.to_file(manifests / "tedlium2_supervisions_train.jsonl.gz")
    conf = tmp_path / "lang.conf"
    conf.write_text("--vocab=train\n--phone-lm-order=2\n")
    out = tmp_path / "lang"
    cmd = ["local/prepare_lang.sh", "--config", str(conf), str(corpus), str(manifests), str(out)]
    r = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    words = read_symbol_table(out / "words.txt")
    assert "dog" not in words and "on" in words
    assert (out / ".done").is_file() and (out / "log" / "prepare_lang.log").is_file()
    mtime = (out / "HLG.pt").stat().st_mtime
    r = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0 and "nothing to do" in r.stderr
    assert (out / "HLG.pt").stat().st_mtime == mtime
    # another option in the conf rebuilds the directory and says why
    conf.write_text("--vocab=train\n--phone-lm-order=2\n--sil-prob=0.3\n")
    r = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    assert r.returncode == 0 and "recomputing: --sil-prob 0.5 -> 0.3" in r.stderr, r.stderr
    assert (out / "HLG.pt").stat().st_mtime != mtime
    bad = subprocess.run(
        cmd[:3] + [str(tmp_path / "nope"), str(manifests), str(out)],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "TEDLIUM.152k.dic" in bad.stderr
