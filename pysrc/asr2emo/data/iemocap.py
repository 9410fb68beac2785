"""IEMOCAP -> lhotse manifests (lhotse has no IEMOCAP recipe; this one is shaped like lhotse's).

Corpus facts (Busso et al., 2008): 5 sessions, each a dyad of one female and one male actor,
improvised and scripted dialogs cut into utterances ("turns"). Layout of IEMOCAP_full_release::

    Session{1..5}/dialog/EmoEvaluation/<dialog>.txt      one block per utterance:
        [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]
        C-E2:<TAB>Neutral;<TAB>()                         (evaluator lines, ignored)
    Session{1..5}/sentences/wav/<dialog>/<utt>.wav       16 kHz mono
    Session{1..5}/dialog/transcriptions/<dialog>.txt     "<utt> [start-end]: text" (optional)

The utterance id ``Ses0{n}{F|M}_{impro|script}..._{F|M}NNN`` names the session, the dialog and,
in its last part, the gender of the speaking actor; speaker = ``Ses0{n}{gender}``.
The categorical label is the evaluators' majority (``xxx`` = no majority). The paper's 4-class
set keeps ang/exc/neu/sad and drops the rest (4936 utterances); ``merge_hap_into_exc`` gives
the other common set (hap+exc merged, 5531 utterances). Whichever is prepared, the counts of
both protocols are reported side by side (:func:`format_protocols`).

Every problem is counted and logged with its place: malformed lines, unknown labels, listed
utterances without a (readable) wav, wavs that no EmoEvaluation file lists.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import soundfile as sf
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet
from lhotse.qa import validate_recordings_and_supervisions

from asr2emo.data.audio_check import error_reason, probe_audio
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

PAPER_CLASSES: Tuple[str, ...] = ("ang", "exc", "neu", "sad")
# Every categorical label that occurs in IEMOCAP's EmoEvaluation files.
IEMOCAP_LABELS = frozenset(
    {"ang", "hap", "exc", "sad", "neu", "fru", "fea", "sur", "dis", "oth", "xxx"}
)
SESSIONS: Tuple[int, ...] = (1, 2, 3, 4, 5)

_UTT_LINE = re.compile(
    r"^\[\s*(?P<start>\d+(?:\.\d+)?)\s*-\s*(?P<end>\d+(?:\.\d+)?)\s*\]\s+"
    r"(?P<utt>\S+)\s+(?P<label>\S+)\s+"
    r"\[\s*(?P<v>-?\d+(?:\.\d+)?)\s*,\s*(?P<a>-?\d+(?:\.\d+)?)\s*,"
    r"\s*(?P<d>-?\d+(?:\.\d+)?)\s*\]\s*$"
)
_UTT_ID = re.compile(
    r"^(?P<dialog>Ses0(?P<session>[1-5])[FM]_(?P<kind>impro|script)[0-9A-Za-z_]*?)"
    r"_(?P<gender>[FM])\d+[a-z]?$"
)


@dataclass(frozen=True)
class EmoEvalEntry:
    """One utterance line of an EmoEvaluation file."""

    utt_id: str
    start: float
    end: float
    label: str
    valence: float
    arousal: float
    dominance: float
    session: int
    dialog: str
    gender: str
    improvised: bool
    where: str  # file:line, for messages

    @property
    def speaker(self) -> str:
        return f"Ses0{self.session}{self.gender}"


@dataclass
class PrepareReport:
    """What was kept and what was skipped, with reasons and places."""

    kept: int = 0
    dropped_labels: Counter = field(default_factory=Counter)
    skipped: Dict[str, List[str]] = field(default_factory=lambda: defaultdict(list))
    counts: Dict[Tuple[int, str], int] = field(default_factory=Counter)
    # protocol (paper | merged) -> (session, class) -> usable utterances under that protocol
    protocols: Dict[str, Dict[Tuple[int, str], int]] = field(default_factory=dict)

    def skip(self, reason: str, what: str) -> None:
        self.skipped[reason].append(what)

    def summary_lines(self, classes: Sequence[str]) -> List[str]:
        lines = [f"kept {self.kept} utterances"]
        if self.dropped_labels:
            dropped = ", ".join(f"{k} {v}" for k, v in sorted(self.dropped_labels.items()))
            lines.append(f"dropped by label mapping: {dropped}")
        for reason, items in sorted(self.skipped.items()):
            shown = "; ".join(items[:20]) + (
                f"; ... ({len(items) - 20} more)" if len(items) > 20 else ""
            )
            lines.append(f"skipped {len(items)} ({reason}): {shown}")
        lines.extend(format_table1(self.counts, classes).splitlines())
        if len(self.protocols) == 2:
            lines.extend(format_protocols(self.protocols, classes).splitlines())
        return lines

    def protocol_totals(self) -> Dict[str, int]:
        """Usable utterances under each protocol (the real corpus: paper 4936, merged 5531)."""
        return {name: sum(c.values()) for name, c in self.protocols.items()}


def parse_utt_id(utt_id: str) -> Optional[Tuple[int, str, str, bool]]:
    """``Ses01F_impro01_M003`` -> (1, 'Ses01F_impro01', 'M', True); None when malformed."""
    m = _UTT_ID.match(utt_id)
    if m is None:
        return None
    return int(m.group("session")), m.group("dialog"), m.group("gender"), m.group("kind") == "impro"


def parse_emo_evaluation(path: Path) -> Tuple[List[EmoEvalEntry], List[str]]:
    """Parse the utterance lines of one EmoEvaluation file.

    Returns the entries and the malformed lines (as ``file:line: text``). Lines that do not start
    with ``[`` (header, evaluator lines, blanks) are not utterance lines and are ignored.
    """
    entries: List[EmoEvalEntry] = []
    bad: List[str] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line.startswith("["):
                continue
            where = f"{path}:{n}"
            m = _UTT_LINE.match(line)
            ident = parse_utt_id(m.group("utt")) if m else None
            if m is None or ident is None:
                bad.append(f"{where}: {line[:80]}")
                continue
            start, end = float(m.group("start")), float(m.group("end"))
            session, dialog, gender, improvised = ident
            entries.append(
                EmoEvalEntry(
                    utt_id=m.group("utt"),
                    start=start,
                    end=end,
                    label=m.group("label").lower(),
                    valence=float(m.group("v")),
                    arousal=float(m.group("a")),
                    dominance=float(m.group("d")),
                    session=session,
                    dialog=dialog,
                    gender=gender,
                    improvised=improvised,
                    where=where,
                )
            )
    return entries, bad


def map_label(label: str, classes: Sequence[str], merge_hap_into_exc: bool) -> Optional[str]:
    """The class an IEMOCAP label counts as, or None when it is dropped."""
    if merge_hap_into_exc and label == "hap":
        label = "exc"
    return label if label in classes else None


def read_transcriptions(session_dir: Path) -> Dict[str, str]:
    """Utterance texts from ``dialog/transcriptions/*.txt`` when present (optional)."""
    texts: Dict[str, str] = {}
    for path in sorted((session_dir / "dialog" / "transcriptions").glob("*.txt")):
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            head, sep, text = raw.partition(":")
            if not sep:
                continue
            utt = head.split()[0] if head.split() else ""
            if parse_utt_id(utt) is not None:
                texts[utt] = text.strip()
    return texts


def check_layout(corpus_dir: Path, sessions: Iterable[int] = SESSIONS) -> None:
    """Raise a one-line UserError naming the expected layout when the corpus is not there."""
    layout = (
        "expected IEMOCAP_full_release layout: DIR/Session{1..5}/dialog/EmoEvaluation/*.txt "
        "and DIR/Session{1..5}/sentences/wav/<dialog>/<utt>.wav"
    )
    if not corpus_dir.is_dir():
        raise UserError(f"IEMOCAP directory '{corpus_dir}' does not exist; {layout}")
    for s in sessions:
        emo = corpus_dir / f"Session{s}" / "dialog" / "EmoEvaluation"
        if not emo.is_dir() or not any(emo.glob("*.txt")):
            raise UserError(f"'{emo}' is missing or has no *.txt; {layout}")


def _probe_wav(path: Path, verify: bool) -> Optional[str]:
    """None when the wav is usable, else the reason it is not."""
    problem = probe_audio(path)
    if problem is not None or not verify:
        return problem
    try:
        sf.read(str(path), dtype="int16", always_2d=True)
    except Exception as e:  # libsndfile errors carry no common base class
        return f"unreadable audio ({error_reason(e)})"
    return None


def prepare_iemocap(
    corpus_dir: Path,
    output_dir: Optional[Path] = None,
    classes: Sequence[str] = PAPER_CLASSES,
    merge_hap_into_exc: bool = False,
    sessions: Sequence[int] = SESSIONS,
    verify_audio: bool = True,
    num_jobs: int = 1,
) -> Tuple[RecordingSet, SupervisionSet, PrepareReport]:
    """Build IEMOCAP recordings (one per utterance wav) and supervisions (one per kept utterance).

    Supervision fields: ``speaker`` (``Ses01F``), ``gender``, ``language``, ``text`` (when the
    transcriptions exist) and ``custom`` = emotion (mapped class), raw_emotion, valence, arousal,
    dominance, session, dialog, improvised. Written as ``iemocap_{recordings,supervisions}_all``.
    """
    corpus_dir = Path(corpus_dir)
    classes = tuple(classes)
    unknown = [c for c in classes if c not in IEMOCAP_LABELS]
    if unknown or not classes or len(set(classes)) != len(classes):
        raise UserError(
            f"--classes {','.join(classes)}: "
            + (f"{','.join(unknown)} is not an IEMOCAP label" if unknown else "empty or repeated")
            + f"; valid labels: {','.join(sorted(IEMOCAP_LABELS))}"
        )
    if merge_hap_into_exc and "hap" in classes:
        raise UserError("--label-map=merged counts hap as exc: drop hap from --classes")
    check_layout(corpus_dir, sessions)
    report = PrepareReport()

    entries: Dict[str, EmoEvalEntry] = {}
    texts: Dict[str, str] = {}
    for s in sessions:
        session_dir = corpus_dir / f"Session{s}"
        texts.update(read_transcriptions(session_dir))
        for path in sorted((session_dir / "dialog" / "EmoEvaluation").glob("*.txt")):
            found, bad = parse_emo_evaluation(path)
            for b in bad:
                report.skip("malformed EmoEvaluation line", b)
            for e in found:
                if e.session != s:
                    report.skip("utterance listed in another session's file", e.where)
                elif e.utt_id in entries:
                    report.skip("duplicate utterance id", f"{e.utt_id} at {e.where}")
                else:
                    entries[e.utt_id] = e

    wav_of: Dict[str, Path] = {}
    for s in sessions:
        for wav in sorted((corpus_dir / f"Session{s}" / "sentences" / "wav").glob("*/*.wav")):
            if wav.name.startswith("."):
                continue  # macOS resource forks (._*.wav) ship in some copies of the corpus
            wav_of[wav.stem] = wav
    for utt in sorted(set(wav_of) - set(entries)):
        report.skip("wav not listed in any EmoEvaluation file", str(wav_of[utt]))

    # The other protocol's utterances (hap, when exc is a class) are checked the same way, so
    # that both protocols' counts are of usable utterances; only this protocol's are kept.
    protocols = {"paper": False, "merged": True} if "hap" not in classes else {"paper": False}
    wanted: List[Tuple[EmoEvalEntry, Optional[str]]] = []
    for utt, e in sorted(entries.items()):
        if e.label not in IEMOCAP_LABELS:
            report.skip("unknown emotion label", f"'{e.label}' at {e.where}")
            continue
        cls = map_label(e.label, classes, merge_hap_into_exc)
        if cls is None:
            report.dropped_labels[e.label] += 1
        if not any(map_label(e.label, classes, m) for m in protocols.values()):
            continue
        if utt not in wav_of:
            if cls is not None:
                report.skip("listed utterance without wav", f"{utt} at {e.where}")
            continue
        wanted.append((e, cls))

    with ThreadPoolExecutor(max(1, num_jobs)) as ex:
        problems = list(ex.map(lambda ec: _probe_wav(wav_of[ec[0].utt_id], verify_audio), wanted))
    report.protocols = {name: Counter() for name in protocols}
    for (e, _), problem in zip(wanted, problems):
        for name, merge in protocols.items():
            other = map_label(e.label, classes, merge)
            if problem is None and other is not None:
                report.protocols[name][(e.session, other)] += 1

    recordings: List[Recording] = []
    supervisions: List[SupervisionSegment] = []
    for (e, cls), problem in zip(wanted, problems):
        wav = wav_of[e.utt_id]
        if cls is None:
            continue  # the other protocol's utterance: counted above
        if problem is not None:
            report.skip("bad audio", f"{wav}: {problem}")
            continue
        rec = Recording.from_file(wav, recording_id=e.utt_id)
        recordings.append(rec)
        supervisions.append(
            SupervisionSegment(
                id=e.utt_id,
                recording_id=e.utt_id,
                start=0.0,
                duration=rec.duration,
                channel=0,
                text=texts.get(e.utt_id),
                language="English",
                speaker=e.speaker,
                gender=e.gender,
                custom={
                    "emotion": cls,
                    "raw_emotion": e.label,
                    "valence": e.valence,
                    "arousal": e.arousal,
                    "dominance": e.dominance,
                    "session": e.session,
                    "dialog": e.dialog,
                    "improvised": e.improvised,
                },
            )
        )
        report.counts[(e.session, cls)] += 1
    report.kept = len(supervisions)
    if not supervisions:
        raise UserError(
            f"no usable IEMOCAP utterance of classes {','.join(classes)} in '{corpus_dir}'"
        )
    empty = [c for c in classes if not any(k[1] == c for k in report.counts)]
    if empty:
        raise UserError(
            f"--classes {','.join(classes)}: no utterance of {','.join(empty)} in '{corpus_dir}'"
            " (an empty class would be a column of zeros in every table)"
        )

    recording_set = RecordingSet.from_recordings(recordings)
    supervision_set = SupervisionSet.from_segments(supervisions)
    validate_recordings_and_supervisions(recording_set, supervision_set)
    if output_dir is not None:
        write_manifests(recording_set, supervision_set, Path(output_dir))
    return recording_set, supervision_set, report


def write_manifests(
    recordings: RecordingSet, supervisions: SupervisionSet, output_dir: Path
) -> None:
    """Write both manifests atomically (a killed run leaves no half-written file)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(output_dir / "iemocap_recordings_all.jsonl.gz") as tmp:
        recordings.to_file(tmp)
    with atomic_path(output_dir / "iemocap_supervisions_all.jsonl.gz") as tmp:
        supervisions.to_file(tmp)


def count_table(supervisions: SupervisionSet) -> Dict[Tuple[int, str], int]:
    """(session, emotion) -> number of utterances."""
    counts: Dict[Tuple[int, str], int] = Counter()
    for s in supervisions:
        counts[(int(s.custom["session"]), s.custom["emotion"])] += 1
    return counts


def format_table1(counts: Dict[Tuple[int, str], int], classes: Sequence[str]) -> str:
    """Utterances per session x class, laid out as the paper's Table 1."""
    sessions = sorted({s for s, _ in counts})
    head = f"{'session':<8}" + "".join(f"{c:>6}" for c in classes) + f"{'total':>7}"
    rows = [head]
    for s in sessions:
        row = [counts.get((s, c), 0) for c in classes]
        rows.append(f"{'Ses' + str(s):<8}" + "".join(f"{v:>6}" for v in row) + f"{sum(row):>7}")
    col = [sum(counts.get((s, c), 0) for s in sessions) for c in classes]
    rows.append(f"{'total':<8}" + "".join(f"{v:>6}" for v in col) + f"{sum(col):>7}")
    return "\n".join(rows)


def format_protocols(
    protocols: Dict[str, Dict[Tuple[int, str], int]], classes: Sequence[str]
) -> str:
    """Both protocols side by side, laid out as Table 1: each cell ``paper/merged``."""
    names = sorted(protocols, key=lambda n: n != "paper")
    sessions = sorted({s for c in protocols.values() for s, _ in c})
    columns = list(classes) + ["total"]

    def n(name: str, session: Optional[int], cls: str) -> int:
        """Utterances of ``cls`` (every class: "total") in ``session`` (every one: None)."""
        return sum(v for (s, c), v in protocols[name].items()
                   if session in (None, s) and cls in ("total", c))  # fmt: skip

    width = max(len(c) for c in columns) + 6
    rows = [f"protocols {'/'.join(names)}:", f"{'session':<8}" + "".join(
        f"{c:>{width}}" for c in columns)]  # fmt: skip
    for session in sessions + [None]:
        cells = ["/".join(str(n(name, session, c)) for name in names) for c in columns]
        label = "total" if session is None else f"Ses{session}"
        rows.append(f"{label:<8}" + "".join(f"{v:>{width}}" for v in cells))
    return "\n".join(rows)


def log_report(report: PrepareReport, classes: Sequence[str]) -> None:
    for line in report.summary_lines(classes):
        (logging.warning if line.startswith("skipped") else logging.info)(line)
