"""Turning a ``--corpus`` argument into training texts.

``toy`` is the n-gram lecture's three sentences, ``pyref`` the Python language reference shipped in
the standard library (real English every Python installation has), ``oracle`` or ``oracle:N`` N
stories of arlm's ground-truth language, anything else a UTF-8 text file (one sentence per
sentence-final punctuation, paragraphs split at blank lines; ``--unit line`` for one per line;
``unit="auto"`` detects which, see ``corpora.detect_sentence_reading``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from arlm_tui.errors import ArlmError

if TYPE_CHECKING:
    from arlm_tui.text.corpora import SentenceReading
    from arlm_tui.text.tokenizers import Tokenizer

ORACLE_DEFAULT_STORIES = 20_000


@dataclass
class CorpusTexts:
    texts: list[str]
    description: str
    name: str
    tokenizer: Tokenizer | None = None  # a fixed tokenizer the corpus requires (the oracle's)
    reading: SentenceReading | None = None  # how a file was cut into sentences (corpora.SentenceReading)


def check_corpus_spec(spec: str) -> None:
    """Check, without reading it, that ``spec`` names a corpus: a bundled one or a regular file
    within the size limit (so a missing input is reported before any output is checked)."""
    if spec in ("toy", "pyref", "oracle") or spec.startswith("oracle:"):
        return
    from arlm_tui.inputs import check_regular_file
    from arlm_tui.text.corpora import MAX_CORPUS_BYTES

    try:
        check_regular_file(spec, limit=MAX_CORPUS_BYTES, what="corpus")
    except ArlmError as exc:
        raise ArlmError(f"--corpus {exc}") from None


def load_corpus_spec(spec: str, *, unit: str = "sentence", seed: int = 0) -> CorpusTexts:
    """Resolve ``spec`` to a list of texts (one training sequence each).

    ``unit`` is how a file is cut: ``sentence`` (at punctuation), ``line``, or ``auto`` (detect
    which; the reading used is in ``.reading``)."""
    from arlm_tui.text import corpora

    if spec == "toy":
        return CorpusTexts(list(corpora.TOY_CORPUS), "the three-sentence toy corpus", "toy")
    if spec == "pyref":
        return CorpusTexts(
            corpora.pyref_sentences(),
            "the Python language reference (pydoc_data.topics)",
            "pyref",
        )
    if spec == "oracle" or spec.startswith("oracle:"):
        count = ORACLE_DEFAULT_STORIES
        if ":" in spec:
            try:
                count = int(spec.split(":", 1)[1])
            except ValueError:
                raise ArlmError(f"--corpus {spec}: expected oracle:N with N a number of stories") from None
            if count < 1:
                raise ArlmError(f"--corpus {spec}: N must be at least 1")
        from arlm_tui.lm.oracle import OracleLanguage, OracleModel

        texts = OracleLanguage().corpus(count, seed=seed)
        return CorpusTexts(
            texts,
            f"{count} stories of the oracle language (seed {seed})",
            "oracle",
            tokenizer=OracleModel().tokenizer,
        )
    readings = {"auto": None, "sentence": "punctuation", "line": "lines"}
    if unit not in readings:
        raise ValueError(f"unit must be one of {', '.join(readings)}, got {unit!r}")
    texts, reading = corpora.read_sentences(spec, readings[unit])
    if not texts:
        raise ArlmError(f"{spec}: no text found")
    return CorpusTexts(texts, f"file {spec}", spec, reading=reading)
