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

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from arlm_tui.errors import ArlmError
from arlm_tui.lm.base import BOS
from arlm_tui.lm.ngram import MAX_ORDER, STUPID_ALPHA, HistoryModel, NGramModel

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
    from arlm_tui.outputs import writing

    path = Path(path)
    with writing(path) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as out:
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
#: Most unigrams (vocabulary size) ``read_arpa`` accepts: a vocabulary is held as Python strings
#: (about 100 bytes a word), so a million words already cost some 100 MB.
MAX_ARPA_VOCAB = 1_000_000
#: Most n-grams of all orders ``read_arpa`` accepts: about 30 bytes each once read (a sorted
#: int64 key, a float64 probability and back-off weight), 40 while reading.
MAX_ARPA_NGRAMS = 20_000_000
#: Longest line read (characters): a longer one is refused rather than read into memory.
MAX_ARPA_LINE = 64 * 1024
#: Largest log10 back-off weight accepted: a weight above 10^20 multiplies the lower-order
#: probabilities past 1, so no well-formed file holds one.
MAX_LOG10_BOW = 20.0
#: Lines parsed between two copies into the numpy arrays.
_CHUNK = 1 << 16


class _ArpaOrder:
    """The j-grams of one order, compactly: a sorted int64 key per n-gram, its probability and
    (below the top order) its back-off weight.

    The context c_1 .. c_{j-1} of a j-gram gets a number by levels, like a trie: level 1 is the
    id c_1; level L numbers the distinct pairs (number of c_1 .. c_{L-1}, c_L), whose keys
    number · V + c_L are kept sorted in ``levels[L - 2]``. The key of the j-gram is
    (number of its context) · V + w, so the n-grams after one context are one contiguous run
    of ``keys``, found by binary search.
    """

    def __init__(self, ids: np.ndarray, probs: np.ndarray, bows: np.ndarray | None, size: int):
        self.order = ids.shape[1]
        self.size = size
        number = ids[:, 0].astype(np.int64)
        self.levels: list[np.ndarray] = []
        for column in range(1, self.order - 1):
            keys, number = np.unique(number * size + ids[:, column], return_inverse=True)
            self.levels.append(keys)
            number = number.reshape(-1)
        keys = number * size + ids[:, -1]
        del number
        sort = np.argsort(keys, kind="stable")
        self.keys = keys[sort]
        del keys
        self.probs = probs[sort]
        self.bows = None if bows is None else bows[sort]
        #: The position (in file order) of the first n-gram listed a second time, or -1.
        self.repeated = -1
        same = np.flatnonzero(self.keys[1:] == self.keys[:-1])
        if len(same):
            self.repeated = int(max(sort[same[0]], sort[same[0] + 1]))

    def __len__(self) -> int:
        return len(self.keys)

    def context_number(self, context: tuple[int, ...]) -> int:
        """The number of a (j-1)-id context, or -1 when no listed j-gram has it."""
        number = context[0]
        for keys, token in zip(self.levels, context[1:]):
            key = number * self.size + token
            pos = int(np.searchsorted(keys, key))
            if pos == len(keys) or keys[pos] != key:
                return -1
            number = pos
        return number

    def run(self, context: tuple[int, ...]) -> tuple[int, int]:
        """The rows [start, end) of the j-grams listed after ``context``."""
        number = self.context_number(context)
        if number < 0:
            return 0, 0
        start = int(np.searchsorted(self.keys, number * self.size))
        return start, int(np.searchsorted(self.keys, (number + 1) * self.size))

    def row(self, gram: tuple[int, ...]) -> int:
        """The row of a listed j-gram, or -1."""
        number = self.context_number(gram[:-1]) if len(gram) > 1 else 0
        if number < 0:
            return -1
        key = number * self.size + gram[-1]
        pos = int(np.searchsorted(self.keys, key))
        return pos if pos < len(self.keys) and self.keys[pos] == key else -1


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
        unigram_bows: np.ndarray,
        orders: dict[int, _ArpaOrder],
        *,
        name: str = "arpa",
        counts: Sequence[int] = (),
    ):
        self.tokenizer = tokenizer
        self.name = name
        self.order = len(orders) + 1
        self._unigram_probs = unigram_probs  # [V]
        self._unigram_bows = unigram_bows  # [V], 1 where the file gives none
        self._orders = orders  # order j >= 2
        self._counts = list(counts)

    def _bow(self, gram: tuple[int, ...]) -> float:
        """bow(gram), 1 when the file lists none."""
        if len(gram) == 1:
            return float(self._unigram_bows[gram[0]])
        table = self._orders[len(gram)]
        r = table.row(gram)
        return 1.0 if r < 0 or table.bows is None else float(table.bows[r])

    def _scores(self, history: tuple[int, ...]) -> np.ndarray:
        """p(w | h) = P(h w) if listed, else bow(h) · p(w | h'), for every w at once."""
        scores = self._unigram_probs.copy()
        n = self.order
        for j in range(2, n + 1):
            context = history[n - j :]
            bow = self._bow(context)
            if bow != 1.0:
                scores *= bow
            table = self._orders[j]
            start, end = table.run(context)
            if end > start:
                scores[table.keys[start:end] % table.size] = table.probs[start:end]
        return scores

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts.update(order=self.order, ngrams={j: c for j, c in enumerate(self._counts, start=1)})
        return facts


def read_arpa(path: str | Path, tokenizer: Tokenizer | None = None) -> ArpaModel:
    """Read an ARPA file into an ``ArpaModel``, line by line into numpy arrays.

    The vocabulary is ``tokenizer``'s when given (every word of the file must be in it; tokens
    the file does not list get probability 0), else a ``WordTokenizer`` of the three specials
    plus the unigrams in file order. A log10 value <= -99 (or ``-inf``) means probability 0.
    The ``\\data\\`` counts are checked against ``MAX_ARPA_VOCAB`` and ``MAX_ARPA_NGRAMS`` before
    anything is allocated. A malformed file (including a back-off weight above 10^20, an n-gram
    listed twice, or no unigram with a probability above 0) raises ArlmError naming the file
    and line.
    """
    path = Path(path)
    try:
        if not path.exists():
            raise ArlmError("ARPA file not found", path=path)
        if not path.is_file():
            raise ArlmError("not a regular file", path=path)
        with path.open(encoding="utf-8", newline=None) as stream:
            return _ArpaReader(path, stream, tokenizer).read()
    except UnicodeDecodeError as exc:
        raise ArlmError(f"not UTF-8 text (byte {exc.start} of a block)", path=path) from None
    except OSError as exc:
        raise ArlmError(f"cannot read it ({exc.strerror or exc})", path=path) from None


class _ArpaReader:
    """One pass over the ARPA layout: ``\\data\\``, ``ngram j=N`` lines, one ``\\j-grams:``
    section per order in increasing order, ``\\end\\``."""

    def __init__(self, path: Path, stream: Any, tokenizer: Tokenizer | None):
        self.path = path
        self.tokenizer = tokenizer
        self.number = 0  # the current line number
        self.declared_at: dict[int, int] = {}  # order -> line of its 'ngram j=N'
        self.readline = stream.readline
        self.lines = iter(lambda: stream.readline(MAX_ARPA_LINE), "")

    def error(self, message: str, line: int | None = None) -> ArlmError:
        return ArlmError(message, path=self.path, line=self.number if line is None else line)

    def next_line(self) -> str | None:
        """The next line, stripped (None at the end of the file)."""
        raw = next(self.lines, None)
        if raw is None:
            return None
        self.number += 1
        if len(raw) >= MAX_ARPA_LINE and not raw.endswith("\n"):
            raise self.error(f"line longer than {MAX_ARPA_LINE} characters: not an ARPA file")
        return raw.strip()

    def read(self) -> ArpaModel:
        # Anything before \data\ (comments, a header) is ignored, as other readers do.
        text = self.next_line()
        while text is not None and text != "\\data\\":
            text = self.next_line()
        if text is None:
            raise self.error("no \\data\\ line: not an ARPA file", max(self.number, 1))
        declared: dict[int, int] = {}
        text = self.next_line()
        while text is not None and text.startswith("ngram "):
            self.declare(declared, text)
            text = self.next_line()
        if not declared:
            raise self.error("expected 'ngram 1=<count>' after \\data\\")
        top = max(declared)
        if sorted(declared) != list(range(1, top + 1)):
            raise self.error("the ngram counts must cover orders 1, 2, ... without gaps")
        self.check_limits(declared)
        tokenizer = self.tokenizer
        unigram_probs = unigram_bows = listed = None
        orders: dict[int, _ArpaOrder] = {}
        for j in range(1, top + 1):
            while text is not None and not text:
                text = self.next_line()
            if text != f"\\{j}-grams:":
                raise self.section_error(text, j, declared)
            header = self.number
            if j == 1:
                words, probs, bows, lines, text = self.unigram_section(declared[1], top > 1)
                tokenizer, ids = self.vocabulary(words, lines)
                size = len(tokenizer.vocab)
                listed = np.zeros(size, dtype=bool)
                listed[ids] = True
                unigram_probs = np.zeros(size)
                unigram_probs[ids] = probs
                unigram_bows = np.ones(size)
                if bows is not None:
                    unigram_bows[ids] = bows
                bos = tokenizer.token_to_id.get(BOS)
                if bos is not None:
                    unigram_probs[bos] = 0.0  # <s> is only ever a context
                if not np.any(unigram_probs > 0):
                    raise self.error(
                        "every unigram has probability 0 (log10 -99): the file gives no "
                        "word any probability",
                        header,
                    )
            else:
                assert tokenizer is not None  # the 1-grams come first: j == 1 set it
                orders[j], text = self.section(j, declared[j], j < top, tokenizer, listed)
        while text is not None and not text:
            text = self.next_line()
        if text != "\\end\\":
            raise self.section_error(text, top + 1, declared)
        counts = [declared[j] for j in range(1, top + 1)]
        assert tokenizer is not None and unigram_probs is not None and unigram_bows is not None
        return ArpaModel(
            tokenizer,
            unigram_probs,
            unigram_bows,
            orders,
            name=self.path.stem,
            counts=counts,
        )

    def section_error(self, text: str | None, j: int, declared: dict[int, int]) -> ArlmError:
        """What is wrong when ``text`` is not the expected ``\\j-grams:`` (or ``\\end\\``)."""
        if text is None:
            return self.error("missing \\end\\ line: the file looks truncated")
        if text.startswith("\\") and text.endswith("-grams:"):
            name = text[1 : -len("-grams:")]
            if not name.isdigit():
                return self.error(f"bad section header {text[:40]!r}")
            if int(name) not in declared:
                return self.error(f"section {text[:40]} is not declared in \\data\\")
            if int(name) < j:
                return self.error(f"section {text[:40]} appears twice")
            return self.error(f"expected the \\{j}-grams: section before {text[:40]}")
        if j > 1 and not text.startswith("\\"):
            return self.error(
                f"\\data\\ declares {declared[j - 1]} {j - 1}-grams but more are listed"
            )
        expected = f"\\{j}-grams:" if j in declared else "\\end\\"
        return self.error(f"expected {expected}, found {text[:40]!r}")

    def declare(self, declared: dict[int, int], text: str) -> None:
        try:
            j_text, count_text = text[len("ngram ") :].split("=")
            j, count = int(j_text), int(count_text)
        except ValueError:
            raise self.error(f"expected 'ngram <order>=<count>', got {text[:40]!r}") from None
        if j < 1 or count < 0 or j in declared:
            raise self.error(f"bad or repeated n-gram count line {text[:40]!r}")
        declared[j] = count
        self.declared_at[j] = self.number

    def check_limits(self, declared: dict[int, int]) -> None:
        top = max(declared)
        if top > MAX_ORDER:
            raise self.error(
                f"\\data\\ declares order {top}; arlm reads orders up to {MAX_ORDER}",
                self.declared_at[top],
            )
        if declared[1] > MAX_ARPA_VOCAB:
            raise self.error(
                f"\\data\\ declares {declared[1]:,} unigrams; arlm reads at most "
                f"{MAX_ARPA_VOCAB:,} (a vocabulary that large does not fit a tutor's memory)",
                self.declared_at[1],
            )
        total = sum(declared.values())
        if total > MAX_ARPA_NGRAMS:
            raise self.error(
                f"\\data\\ declares {total:,} n-grams; arlm reads at most {MAX_ARPA_NGRAMS:,}",
                max(self.declared_at.values()),
            )
        if declared[1] == 0:
            raise self.error("\\data\\ declares no unigrams", self.declared_at[1])

    def entries(self, j: int, count: int, with_bows: bool, to_id: Any):
        """Parse the ``count`` entry lines of section j (blank lines skipped): yields chunks of
        (the j ids of each entry, row after row, or the words when ``to_id`` is None; log10
        probs; log10 bows or None; line numbers). The hot loop of the reader, hence written
        out."""
        expected = (j + 1, j + 2) if with_bows else (j + 1,)
        readline, limit = self.readline, MAX_ARPA_LINE
        done = 0
        while done < count:
            take = min(_CHUNK, count - done)
            words: list[Any] = []  # j per entry, row after row
            probs: list[float] = []
            bows: list[float] = []
            lines: list[int] = []
            number = self.number
            while len(probs) < take:
                raw = readline(limit)
                number += 1
                fields = raw.split()
                if len(fields) not in expected or len(raw) >= limit:
                    self.number = number
                    if not fields:
                        if raw:
                            continue  # a blank line
                        self.number -= 1
                    self.entry_problem(raw, fields, j, count, done + len(probs), with_bows)
                try:
                    probs.append(float(fields[0]))
                    bows.append(float(fields[-1]) if len(fields) == j + 2 else 0.0)
                except ValueError:
                    self.number = number
                    what = "back-off weight" if _is_number(fields[0]) else "probability"
                    bad = fields[-1] if _is_number(fields[0]) else fields[0]
                    raise self.error(f"{what} {bad[:20]!r} is not a number") from None
                words += fields[1 : j + 1]
                lines.append(number)
            self.number = number
            if to_id is not None:
                ids = list(map(to_id, words))
                if None in ids:
                    r = ids.index(None)
                    raise self.error(self.unknown_word(words[r]), lines[r // j])
                words = ids
            done += take
            yield words, np.asarray(probs), np.asarray(bows) if with_bows else None, lines

    def entry_problem(
        self, raw: str, fields: list[str], j: int, count: int, done: int, with_bows: bool
    ) -> None:
        """Raise the error for an entry line of section j that is not one."""
        if len(raw) >= MAX_ARPA_LINE and not raw.endswith("\n"):
            raise self.error(f"line longer than {MAX_ARPA_LINE} characters: not an ARPA file")
        if not raw or fields[0].startswith("\\"):
            raise self.error(f"\\data\\ declares {count} {j}-grams but {done} are listed")
        if len(fields) in ((j + 1, j + 2) if with_bows else (j + 1,)):
            return  # a long line that is whole
        need = "log10 p and the words" + (", then an optional bow" if with_bows else "")
        raise self.error(f"a {j}-gram line needs {need}; got {len(fields)} fields")

    def unknown_word(self, word: str) -> str:
        if self.tokenizer is not None:
            return f"word {word!r} is not in the tokenizer's vocabulary"
        return f"word {word!r} is not in the 1-grams"

    def gather(self, j: int, count: int, with_bows: bool, to_id: Any):
        """All of section j: (columns or words, probabilities, bows, line numbers), with the
        log10 values checked and turned into probabilities."""
        if to_id is None:
            words: list[str] = []
        else:
            ids = np.empty((count, j), dtype=np.int32)
        probs = np.empty(count)
        bows = np.empty(count) if with_bows else None
        lines = np.empty(count, dtype=np.int64)
        at = 0
        for tokens, p, b, numbers in self.entries(j, count, with_bows, to_id):
            size = len(p)
            if to_id is None:
                words.extend(tokens)
            else:
                ids[at : at + size] = np.asarray(tokens, dtype=np.int32).reshape(size, j)
            probs[at : at + size] = p
            if bows is not None:
                bows[at : at + size] = b
            lines[at : at + size] = numbers
            at += size
        self.check_values(probs, lines, "probability", 1e-6)
        if bows is not None:
            self.check_values(bows, lines, "back-off weight", MAX_LOG10_BOW)
        return (words if to_id is None else ids), _from_log10(probs), _from_log10(bows), lines

    def check_values(self, values: np.ndarray, lines: np.ndarray, what: str, top: float) -> None:
        bad = np.flatnonzero(~(values <= top) | np.isnan(values))
        if len(bad):
            value, line = values[bad[0]], int(lines[bad[0]])
            if not np.isfinite(value):
                raise self.error(f"{what} {value} is not a finite log10 value", line)
            if what == "probability":
                raise self.error(f"log10 probability {value:g} is above 0", line)
            raise self.error(
                f"log10 back-off weight {value:g} is out of range (at most {top:g})", line
            )

    def unigram_section(self, count: int, with_bows: bool):
        words, probs, bows, lines = self.gather(1, count, with_bows, None)
        return words, probs, bows, lines, self.next_line()

    def vocabulary(self, words: list[str], lines: np.ndarray) -> tuple[Tokenizer, np.ndarray]:
        tokenizer = self.tokenizer
        if tokenizer is None:
            from arlm_tui.text.tokenizers import WordTokenizer

            tokenizer = WordTokenizer.from_vocab(words)
        token_to_id = tokenizer.token_to_id
        ids = np.empty(len(words), dtype=np.int64)
        for r, word in enumerate(words):
            token = token_to_id.get(word)
            if token is None:
                raise self.error(f"word {word!r} is not in the tokenizer's vocabulary", int(lines[r]))
            ids[r] = token
        order = np.argsort(ids, kind="stable")
        same = np.flatnonzero(ids[order][1:] == ids[order][:-1])
        if len(same):
            r = max(order[same[0]], order[same[0] + 1])
            raise self.error(f"unigram {words[r]!r} is listed twice", int(lines[r]))
        return tokenizer, ids

    def section(self, j: int, count: int, with_bows: bool, tokenizer: Tokenizer, listed):
        ids, probs, bows, lines = self.gather(j, count, with_bows, tokenizer.token_to_id.get)
        unlisted = np.flatnonzero(~listed[ids].all(axis=1))
        if len(unlisted):
            r = int(unlisted[0])
            word = tokenizer.vocab[int(ids[r][~listed[ids[r]]][0])]
            raise self.error(f"word {word!r} is not in the 1-grams", int(lines[r]))
        table = _ArpaOrder(ids, probs, bows, len(tokenizer.vocab))
        del ids
        if table.repeated >= 0:
            raise self.error(f"this {j}-gram is listed twice", int(lines[table.repeated]))
        return table, self.next_line()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _from_log10(values: np.ndarray | None) -> np.ndarray | None:
    """10 ** values, with <= -99 (and -inf) read as 0."""
    if values is None:
        return None
    with np.errstate(over="ignore", under="ignore"):
        return np.where(values <= LOG_ZERO, 0.0, np.power(10.0, np.maximum(values, LOG_ZERO)))
