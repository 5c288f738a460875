"""ARPA back-off files: export an n-gram model in the standard text format, and read one back.

An ARPA file lists, per order j, n-grams with log10 p(w | h) and (below the top order) a log10
back-off weight bow. A reader computes

    p(w | h) = P(h w)                 if the n-gram h w is listed
             = bow(h) · p(w | h')     otherwise (bow(h) = 1 when h is not listed),

with h' = h without its oldest token, down to the unigrams. A sentence opens with a single ``<s>``,
as in SRILM and KenLM: the file lists ``<s> w``, ``<s> w v``, ... and never ``<s> <s> w``. The
reader pads a context on the left with n-1 ``<s>`` like ``NGramModel`` (so a ``<s> <s>`` context,
never listed, has bow = 1 and backs off to ``<s>`` at no cost), and a ``<s>`` inside a context
starts a new sentence.

A sentence's opening: ``NGramModel`` pads a sentence with n-1 ``<s>``, so its first word is
predicted from ``<s> <s>`` (order 3). The file holds the model's probabilities after n-1 ``<s>``
under the single-``<s>`` names: ``<s> w`` holds p(w | ``<s> <s>``), and the back-off weight of
``<s>`` is the product of the model's back-off factors at ``<s> <s>`` and ``<s>``. SRILM, KenLM and
``read_arpa`` then score every token as the model does (tests/test_arpa_kenlm.py).

Export (``write_arpa``) per smoothing:

* ``kn``, ``interp``: interpolated models are already p_j(w | h) = α_j(h, w) + γ_j(h) p_{j-1}(w | h').
  A seen n-gram is listed with its full interpolated probability at its order and bow(h) = γ_j(h),
  so the back-off recursion reproduces the model exactly. Lower orders list the model's lower-order
  distribution (for kn the continuation-count one).
* ``mle``: seen n-grams with c(h, w)/c(h); a seen context gets bow = 0 (written -99), so a word
  never seen after it has probability 0; an unseen context backs off, as the model does.
* ``stupid``: relative frequencies with bow = 0.4 on every listed lower-order n-gram. Exact for
  histories listed in the file; for a history the file does not list, a reader uses bow = 1 where
  stupid backoff multiplies by 0.4 (ARPA cannot say otherwise). The values are scores, not
  probabilities, but an ARPA reader cannot tell.
* ``addk`` is refused (ArlmError): it is not a back-off model, so its file would list every word
  after every seen context (|V| lines per context).

Every vocabulary token is a unigram (``<s>`` with log-prob -99, i.e. probability 0, and a bow).
Tokens containing whitespace cannot be written (ArlmError).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from arlm_tui.errors import ArlmError
from arlm_tui.lm.base import BOS
from arlm_tui.lm.ngram import STUPID_ALPHA, HistoryModel, NGramModel

if TYPE_CHECKING:  # pragma: no cover
    from arlm_tui.text.tokenizers import Tokenizer

#: log10 probability written for (and read as) probability 0.
LOG_ZERO = -99.0


def _log10(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        logs = np.log10(values)
    return np.where(values > 0, logs, LOG_ZERO)


def write_arpa(model: NGramModel, path: str | Path) -> None:
    """Write ``model`` to ``path`` in ARPA format (see the module docstring for each smoothing)."""
    if model.smoothing == "addk":
        raise ArlmError(
            "add-k smoothing is not a back-off model and cannot be written as ARPA; "
            "export a kn, interp, mle or stupid model instead"
        )
    vocab = model.vocab
    for token in vocab:
        if not token or any(ch.isspace() for ch in token):
            raise ArlmError(f"token {token!r} is empty or contains whitespace; ARPA cannot hold it")
    sections = _arpa_sections(model)
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write("\n\\data\\\n")
        for j, (grams, _, _) in enumerate(sections, start=1):
            out.write(f"ngram {j}={len(grams)}\n")
        for j, (grams, probs, bows) in enumerate(sections, start=1):
            out.write(f"\n\\{j}-grams:\n")
            log_probs = _log10(probs)
            log_bows = _log10(bows) if bows is not None else None
            for r, gram in enumerate(grams.tolist()):
                words = " ".join(vocab[i] for i in gram)
                line = f"{log_probs[r]:.10g}\t{words}"
                if log_bows is not None:
                    line += f"\t{log_bows[r]:.10g}"
                out.write(line + "\n")
        out.write("\n\\end\\\n")


def _arpa_sections(
    model: NGramModel,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Per ARPA order j = 1..n: the j-grams (ids), their probabilities and (below n) their
    back-off weights, with a sentence opening on a single ``<s>``.

    The model's own n-grams that do not start with ``<s>`` are listed as they are. Those that
    do come from the top order: the model's n-gram ``<s>``·m t_1 .. t_k w (m + k + 1 = n, as
    the model pads a sentence with n-1 ``<s>``) is listed as ``<s> t_1 .. t_k w`` with the
    model's p(w | ``<s>``·m t_1 .. t_k). Its back-off weight, for a w never seen there, is the
    product of the model's γ_j over the orders the file folds into one, j = k+2 .. n, with the
    contexts ``<s>``·(j-1-k) t_1 .. t_k: they all have the same followers (each is counted once
    per sentence that starts with t_1 .. t_k), so no other word is listed at any of them.
    """
    n = model.order
    bos = model.bos_id
    tables = model._tables
    default = STUPID_ALPHA if model.smoothing == "stupid" else 1.0

    def gamma(j: int, context: tuple[int, ...]) -> float:
        k = tables[j].ctx_index.get(context)
        return default if k is None else float(model._gamma[j][k])

    def opening_bow(tokens: tuple[int, ...]) -> float:
        """The back-off weight of ``<s> tokens``: Π_{j=k+2..n} γ_j(<s>·(j-1-k) tokens)."""
        k = len(tokens)
        return float(np.prod([gamma(j, (bos,) * (j - 1 - k) + tokens) for j in range(k + 2, n + 1)]))

    sections: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    top = tables[n].grams.astype(np.int64)
    opening = top[top[:, 0] == bos] if n > 1 else top[:0]
    pads = np.argmax(opening != bos, axis=1)  # m: the leading <s> of each (the last id is not <s>)
    opening_probs = model._pair_scores(opening[:, :-1], opening[:, -1])
    for j in range(1, n + 1):
        if j == 1:
            grams = np.arange(len(model.vocab), dtype=np.int64)[:, None]
        else:
            own = tables[j].grams.astype(np.int64)
            grams = own[own[:, 0] != bos]
        probs = model._pair_scores(grams[:, :-1], grams[:, -1])
        if j == 1:
            probs[bos] = 0.0  # <s> is never predicted
        else:
            rows = np.flatnonzero(n - pads + 1 == j)  # <s> then j-1 tokens
            folded = np.concatenate(
                [np.full((len(rows), 1), bos, dtype=np.int64), opening[rows, n - j + 1 :]], axis=1
            )
            grams = np.concatenate([grams, folded])
            probs = np.concatenate([probs, opening_probs[rows]])
        bows = None
        if j < n:
            bows = np.array(
                [
                    opening_bow(tuple(gram[1:])) if gram[0] == bos else gamma(j + 1, tuple(gram))
                    for gram in grams.tolist()
                ],
                dtype=np.float64,
            )
        sections.append((grams, probs, bows))
    return sections


# ---------------------------------------------------------------------------------- reading
class ArpaModel(HistoryModel):
    """A back-off language model read from an ARPA file (``read_arpa``).

    ``next_logprobs`` builds p(· | h) from the unigrams up: at order j the vector is multiplied by
    bow(h_j) and the n-grams listed after h_j overwrite their entries with P(h_j w).
    """

    backend = "arpa"

    def __init__(
        self,
        tokenizer: Tokenizer,
        unigram_probs: np.ndarray,
        listed: dict[int, dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]]],
        backoffs: dict[int, dict[tuple[int, ...], float]],
        *,
        name: str = "arpa",
        counts: Sequence[int] = (),
    ):
        self.tokenizer = tokenizer
        self.name = name
        self.order = len(listed) + 1
        self._unigram_probs = unigram_probs
        self._listed = listed  # order j >= 2: context (j-1 ids) -> (next ids, probabilities)
        self._backoffs = backoffs  # order j < n: j-gram -> back-off weight (absent = 1)
        self._counts = list(counts)

    def _scores(self, history: tuple[int, ...]) -> np.ndarray:
        """p(w | h) = P(h w) if listed, else bow(h) · p(w | h'), for every w at once."""
        scores = self._unigram_probs.copy()
        n = self.order
        for j in range(2, n + 1):
            context = history[n - j :]
            bow = self._backoffs[j - 1].get(context)
            if bow is not None:
                scores *= bow
            entry = self._listed[j].get(context)
            if entry is not None:
                scores[entry[0]] = entry[1]
        return scores

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts.update(order=self.order, ngrams={j: c for j, c in enumerate(self._counts, start=1)})
        return facts


def read_arpa(path: str | Path, tokenizer: Tokenizer | None = None) -> ArpaModel:
    """Read an ARPA file into an ``ArpaModel``.

    The vocabulary is ``tokenizer``'s when given (every word of the file must be in it; tokens
    the file does not list get probability 0), else a ``WordTokenizer`` of the three specials
    plus the unigrams in file order. A log10 value <= -99 (or ``-inf``) means probability 0.
    A malformed file raises ArlmError naming the file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArlmError("ARPA file not found", path=path) from None
    except UnicodeDecodeError as exc:
        raise ArlmError(f"not UTF-8 text (byte {exc.start})", path=path) from None
    except OSError as exc:
        raise ArlmError(f"cannot read it ({exc.strerror})", path=path) from None
    parsed = _ArpaParser(path).parse(text.splitlines())
    if tokenizer is None:
        from arlm_tui.text.tokenizers import WordTokenizer

        tokenizer = WordTokenizer.from_vocab([w[0] for w, _, _ in parsed.entries[1]])
    token_to_id = tokenizer.token_to_id
    size = len(tokenizer.vocab)
    n = len(parsed.entries)
    unigram_probs = np.zeros(size)
    listed: dict[int, dict[tuple[int, ...], tuple[list[int], list[float]]]] = {
        j: {} for j in range(2, n + 1)
    }
    backoffs: dict[int, dict[tuple[int, ...], float]] = {j: {} for j in range(1, n)}
    for j in range(1, n + 1):
        for words, prob, bow, line in _with_lines(parsed, j):
            ids = []
            for word in words:
                token_id = token_to_id.get(word)
                if token_id is None or (j > 1 and word not in parsed.unigrams):
                    where = "the tokenizer's vocabulary" if token_id is None else "the 1-grams"
                    raise ArlmError(f"word {word!r} is not in {where}", path=path, line=line)
                ids.append(token_id)
            gram = tuple(ids)
            if j == 1:
                unigram_probs[gram[0]] = prob
            else:
                next_ids, probs = listed[j].setdefault(gram[:-1], ([], []))
                next_ids.append(gram[-1])
                probs.append(prob)
            if bow is not None and j < n:
                backoffs[j][gram] = bow
    bos = token_to_id.get(BOS)
    if bos is not None:
        unigram_probs[bos] = 0.0  # <s> is only ever a context
    arrays = {
        j: {c: (np.asarray(i, dtype=np.intp), np.asarray(p)) for c, (i, p) in by_context.items()}
        for j, by_context in listed.items()
    }
    counts = [len(parsed.entries[j]) for j in range(1, n + 1)]
    return ArpaModel(tokenizer, unigram_probs, arrays, backoffs, name=path.stem, counts=counts)


def _with_lines(
    parsed: _ParsedArpa, j: int
) -> Iterator[tuple[tuple[str, ...], float, float | None, int]]:
    for (words, prob, bow), line in zip(parsed.entries[j], parsed.lines[j]):
        yield words, prob, bow, line


class _ParsedArpa:
    def __init__(self) -> None:
        self.declared: dict[int, int] = {}
        self.entries: dict[int, list[tuple[tuple[str, ...], float, float | None]]] = {}
        self.lines: dict[int, list[int]] = {}
        self.unigrams: set[str] = set()


class _ArpaParser:
    """A line-by-line reader of the ARPA layout: ``\\data\\``, ``ngram j=N`` lines, one
    ``\\j-grams:`` section per order, ``\\end\\``."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, message: str, line: int) -> ArlmError:
        return ArlmError(message, path=self.path, line=line)

    def parse(self, lines: list[str]) -> _ParsedArpa:
        parsed = _ParsedArpa()
        number = 0
        stripped = [line.strip() for line in lines]
        # Anything before \data\ (comments, a header) is ignored, as other readers do.
        while number < len(stripped) and stripped[number] != "\\data\\":
            number += 1
        if number == len(stripped):
            raise self.error("no \\data\\ line: not an ARPA file", max(len(lines), 1))
        number += 1
        while number < len(stripped) and stripped[number].startswith("ngram "):
            self._declare(parsed, stripped[number], number + 1)
            number += 1
        if not parsed.declared:
            raise self.error("expected 'ngram 1=<count>' after \\data\\", number + 1)
        top = max(parsed.declared)
        if sorted(parsed.declared) != list(range(1, top + 1)):
            raise self.error("the ngram counts must cover orders 1, 2, ... without gaps", number)
        order = None
        ended = False
        first_entry_line = number
        for number in range(first_entry_line, len(stripped)):
            text = stripped[number]
            line = number + 1
            if not text:
                continue
            if text == "\\end\\":
                ended = True
                break
            if text.startswith("\\") and text.endswith("-grams:"):
                order = self._section(parsed, text, line)
                continue
            if order is None:
                raise self.error(f"unexpected line {text[:40]!r} before any n-gram section", line)
            self._entry(parsed, order, text, line)
        if not ended:
            raise self.error("missing \\end\\ line: the file looks truncated", max(len(lines), 1))
        end_line = number + 1
        for j in range(1, top + 1):
            if j not in parsed.entries:
                raise self.error(f"no \\{j}-grams: section", end_line)
            if len(parsed.entries[j]) != parsed.declared[j]:
                raise self.error(
                    f"\\data\\ declares {parsed.declared[j]} {j}-grams but "
                    f"{len(parsed.entries[j])} are listed",
                    end_line,
                )
        return parsed

    def _declare(self, parsed: _ParsedArpa, text: str, line: int) -> None:
        try:
            j_text, count_text = text[len("ngram ") :].split("=")
            j, count = int(j_text), int(count_text)
        except ValueError:
            raise self.error(f"expected 'ngram <order>=<count>', got {text[:40]!r}", line) from None
        if j < 1 or count < 0 or j in parsed.declared:
            raise self.error(f"bad or repeated n-gram count line {text[:40]!r}", line)
        parsed.declared[j] = count

    def _section(self, parsed: _ParsedArpa, text: str, line: int) -> int:
        try:
            j = int(text[1 : -len("-grams:")])
        except ValueError:
            raise self.error(f"bad section header {text[:40]!r}", line) from None
        if j not in parsed.declared:
            raise self.error(f"section \\{j}-grams: is not declared in \\data\\", line)
        if j in parsed.entries:
            raise self.error(f"section \\{j}-grams: appears twice", line)
        parsed.entries[j] = []
        parsed.lines[j] = []
        return j

    def _entry(self, parsed: _ParsedArpa, j: int, text: str, line: int) -> None:
        fields = text.split()
        top = max(parsed.declared)
        if len(fields) not in (j + 1, j + 2) or (len(fields) == j + 2 and j == top):
            allowed = "log10 p and the words" + ("" if j == top else ", then an optional bow")
            raise self.error(f"a {j}-gram line needs {allowed}; got {len(fields)} fields", line)
        prob = self._log_value(fields[0], line, "probability")
        if prob > 1 + 1e-6:
            raise self.error(f"log10 probability {fields[0]} is above 0", line)
        bow = self._log_value(fields[-1], line, "back-off weight") if len(fields) == j + 2 else None
        words = tuple(fields[1 : j + 1])
        parsed.entries[j].append((words, prob, bow))
        parsed.lines[j].append(line)
        if j == 1:
            parsed.unigrams.add(words[0])

    def _log_value(self, field: str, line: int, what: str) -> float:
        """10 ** field, with <= -99 (and -inf) read as 0."""
        try:
            value = float(field)
        except ValueError:
            raise self.error(f"{what} {field[:20]!r} is not a number", line) from None
        if math.isnan(value) or value == math.inf:
            raise self.error(f"{what} {field!r} is not a finite log10 value", line)
        return 0.0 if value <= LOG_ZERO else 10.0**value
