"""Tokenizers: how text becomes the token ids a language model sees, and back.

Three kinds share one interface (``Tokenizer``):

* ``CharTokenizer`` - every character is a token (spaces and newlines included);
* ``WordTokenizer`` - words, numbers and single punctuation marks, cut by ``WORD_PATTERN``;
* ``BPETokenizer`` - byte-level byte-pair encoding trained with the ``tokenizers`` library.

Ids 0, 1, 2 are always ``<unk>``, ``<s>``, ``</s>``. ``encode`` never adds ``<s>``/``</s>``;
``decode`` drops them and shows ``<unk>`` as the text ``<unk>``.

For the BPE lesson there are two pure-Python companions: ``learn_bpe`` runs the training loop
(count adjacent pairs, merge the most frequent, repeat) on a tiny corpus step by step, and
``bpe_merge_steps`` replays a learned merge list on a word to show how it gets segmented.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar, Self

from arlm_tui.errors import ModelLoadError

#: The special tokens every tokenizer has (``arlm_tui.lm.base`` re-exports them).
BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"

#: The three special tokens, in id order: <unk> = 0, <s> = 1, </s> = 2.
SPECIAL_TOKENS: tuple[str, str, str] = (UNK, BOS, EOS)
#: Version of the JSON written by ``Tokenizer.save``.
FORMAT_VERSION = 1

#: How ``WordTokenizer`` cuts text into tokens. Alternatives, tried left to right at each position:
#:
#: 1. ``<unk>`` - the unknown-token marker, so decoded text re-encodes to the same ids;
#: 2. a number with decimal or thousands separators: ``3.14``, ``1,000``;
#: 3. a word: letters/digits, with inner apostrophes or hyphens (``don't``, ``state-of-the-art``,
#:    ``3rd``); an apostrophe or hyphen at either end is not part of the word;
#: 4. any other non-space character, alone: each punctuation mark or symbol is its own token
#:    (``_`` included, although regular expressions count it as a word character).
#:
#: Whitespace separates tokens and is dropped.
WORD_PATTERN = r"<unk>|\d+(?:[.,]\d+)+|[^\W_]+(?:[-'’][^\W_]+)*|[^\w\s]|_"
_WORD_RE = re.compile(WORD_PATTERN)

#: Tokens that attach to the token before them when words are joined back into text.
CLOSING_PUNCTUATION = frozenset(".,;:!?)]}'%’”…")
#: Tokens that attach to the token after them.
OPENING_BRACKETS = frozenset("([{‘“¿¡")


# ---------------------------------------------------------------------------------- base class
class Tokenizer(ABC):
    """Maps text to token ids and back. ``vocab[i]`` is the string of token id ``i``."""

    kind: ClassVar[str] = "abstract"
    unk_id: ClassVar[int] = 0
    bos_id: ClassVar[int] = 1
    eos_id: ClassVar[int] = 2

    vocab: list[str]
    token_to_id: dict[str, int]
    lowercase: bool

    def _set_vocab(self, vocab: Sequence[str]) -> None:
        self.vocab = list(vocab)
        self.token_to_id = {token: i for i, token in enumerate(self.vocab)}

    # ------------------------------------------------------------------ text <-> ids
    @abstractmethod
    def tokenize(self, text: str) -> list[str]:
        """The token strings of ``text``; rare or unknown pieces are kept as they are."""

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no ``<s>``/``</s>`` added); unknown tokens become ``unk_id``."""
        unk = self.unk_id
        lookup = self.token_to_id
        return [lookup.get(token, unk) for token in self.tokenize(text)]

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """``[encode(t) for t in texts]`` (BPE does it in parallel)."""
        return [self.encode(text) for text in texts]

    @abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``: ``<s>`` and ``</s>`` dropped, ``<unk>`` shown as ``"<unk>"``."""

    def join(self, ids: Iterable[int]) -> str:
        """Same as ``decode``."""
        return self.decode(ids)

    @abstractmethod
    def token_text(self, token_id: int) -> str:
        """How the single token ``token_id`` reads when shown on its own (specials as named)."""

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={len(self)}, lowercase={self.lowercase})"

    def _check_id(self, token_id: int) -> int:
        token_id = int(token_id)
        if not 0 <= token_id < len(self.vocab):
            raise ValueError(
                f"token_id: {token_id} is outside the vocabulary [0, {len(self.vocab)})"
            )
        return token_id

    # ------------------------------------------------------------------ persistence
    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description from which ``from_dict`` rebuilds this tokenizer."""

    @classmethod
    @abstractmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Tokenizer:
        """Rebuild a tokenizer from ``to_dict()``; a malformed dict raises ModelLoadError."""

    def save(self, path: str | Path) -> None:
        """Write ``to_dict()`` as UTF-8 JSON to ``path``."""
        from arlm_tui.outputs import write_text

        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        write_text(path, text + "\n")  # a temporary file renamed into place

    @classmethod
    @abstractmethod
    def train(
        cls, texts: Iterable[str], *, min_count: int = 1, lowercase: bool = False, **kind_specific
    ) -> Tokenizer:
        """Build the vocabulary from ``texts``."""


def _check_min_count(min_count: int) -> None:
    if not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")


def _as_texts(texts: Iterable[str] | str) -> Iterable[str]:
    # A lone string would otherwise be iterated character by character.
    return [texts] if isinstance(texts, str) else texts


def _vocab_from_counts(counts: Counter[str], min_count: int, max_size: int | None) -> list[str]:
    """Specials, then tokens seen >= min_count times by descending count, ties alphabetical."""
    if max_size is not None and max_size < len(SPECIAL_TOKENS):
        raise ValueError(f"max_size must be >= {len(SPECIAL_TOKENS)} or None, got {max_size}")
    kept = [t for t, c in counts.items() if c >= min_count and t not in SPECIAL_TOKENS]
    kept.sort(key=lambda t: (-counts[t], t))
    if max_size is not None:
        kept = kept[: max_size - len(SPECIAL_TOKENS)]
    return [*SPECIAL_TOKENS, *kept]


def _vocab_with_specials(tokens: Iterable[str]) -> list[str]:
    """The three specials first, then ``tokens`` in order, skipping duplicates and specials."""
    vocab = list(SPECIAL_TOKENS)
    seen = set(vocab)
    for token in tokens:
        if not isinstance(token, str):
            raise TypeError(f"tokens must be strings, got {token!r}")
        if token not in seen:
            seen.add(token)
            vocab.append(token)
    return vocab


def _vocab_from_dict(d: Mapping[str, Any], kind: str) -> list[str]:
    """Validate the ``kind`` and ``vocab`` entries of a saved word/char tokenizer."""
    if not isinstance(d, Mapping):
        raise ModelLoadError(f"a {kind} tokenizer must be a JSON object")
    if d.get("kind") != kind:
        raise ModelLoadError(f"expected a {kind} tokenizer, found kind {d.get('kind')!r}")
    vocab = d.get("vocab")
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        raise ModelLoadError(f"{kind} tokenizer: 'vocab' must be a list of strings")
    if tuple(vocab[:3]) != SPECIAL_TOKENS:
        raise ModelLoadError(
            f"{kind} tokenizer: vocab must start with {', '.join(SPECIAL_TOKENS)} (ids 0, 1, 2)"
        )
    if len(set(vocab)) != len(vocab):
        dup = next(t for t, c in Counter(vocab).items() if c > 1)
        raise ModelLoadError(f"{kind} tokenizer: token {dup!r} appears twice in the vocab")
    if not isinstance(d.get("lowercase", False), bool):
        raise ModelLoadError(f"{kind} tokenizer: 'lowercase' must be true or false")
    return vocab


# ------------------------------------------------------------------------ char and word share
class _ListTokenizer(Tokenizer):
    """What the char and word tokenizers share: a plain list vocabulary (specials first), saved
    as JSON, and text lower-cased before it is cut when ``lowercase`` is set."""

    def __init__(self, vocab: Sequence[str], *, lowercase: bool = False):
        self._set_vocab(vocab)
        self.lowercase = lowercase

    @classmethod
    def _from_tokens(cls, tokens: list[str], lowercase: bool) -> Self:
        """Specials, then ``tokens`` in order (lower-cased with ``lowercase``, duplicates and
        specials skipped)."""
        if lowercase:
            tokens = [t if t in SPECIAL_TOKENS else t.lower() for t in tokens]
        return cls(_vocab_with_specials(tokens), lowercase=lowercase)

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        *,
        min_count: int = 1,
        lowercase: bool = False,
        max_size: int | None = None,
    ) -> Self:
        """Tokens of ``texts`` seen at least ``min_count`` times; at most ``max_size`` tokens in
        all (specials included; the most frequent kept), in the order ``_vocab_order`` gives."""
        _check_min_count(min_count)
        counts: Counter[str] = Counter()
        for text in _as_texts(texts):
            counts.update(cls._cut(text.lower() if lowercase else text))
        vocab = _vocab_from_counts(counts, min_count, max_size)
        return cls([*SPECIAL_TOKENS, *cls._vocab_order(vocab[3:])], lowercase=lowercase)

    @staticmethod
    def _vocab_order(tokens: list[str]) -> list[str]:
        """How trained tokens are ordered after the specials (given: by descending count, ties
        alphabetical)."""
        return tokens

    @staticmethod
    def _cut(text: str) -> list[str]:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def tokenize(self, text: str) -> list[str]:
        return self._cut(text.lower() if self.lowercase else text)

    def token_text(self, token_id: int) -> str:
        return self.vocab[self._check_id(token_id)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format_version": FORMAT_VERSION,
            "lowercase": self.lowercase,
            "vocab": list(self.vocab),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        vocab = _vocab_from_dict(d, cls.kind)
        cls._check_saved_vocab(vocab)
        return cls(vocab, lowercase=bool(d.get("lowercase", False)))

    @classmethod
    def _check_saved_vocab(cls, vocab: list[str]) -> None:
        """Kind-specific checks of a saved vocabulary (raise ModelLoadError)."""


# ---------------------------------------------------------------------------------- char
class CharTokenizer(_ListTokenizer):
    """Every character is a token: ``"hi!\\n"`` -> ``["h", "i", "!", "\\n"]``.

    Vocabulary: the specials, then the characters seen at least ``min_count`` times in code-point
    order. ``decode(encode(t)) == t`` whenever every character of ``t`` is in the vocabulary.
    """

    kind = "char"

    @classmethod
    def from_vocab(cls, chars: Iterable[str], *, lowercase: bool = False) -> CharTokenizer:
        """Specials, then ``chars`` in the given order (duplicates skipped).

        ``chars`` may be a string (``from_vocab("abc ")``) or a sequence of single characters."""
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or (len(c) != 1 and c not in SPECIAL_TOKENS):
                raise ValueError(f"chars must be single characters, got {c!r}")
        return cls._from_tokens(chars, lowercase)

    @staticmethod
    def _vocab_order(tokens: list[str]) -> list[str]:
        return sorted(tokens)

    @staticmethod
    def _cut(text: str) -> list[str]:
        return list(text)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(_readable_tokens(self, ids))

    @classmethod
    def _check_saved_vocab(cls, vocab: list[str]) -> None:
        bad = next((t for t in vocab[3:] if len(t) != 1), None)
        if bad is not None:
            raise ModelLoadError(f"char tokenizer: vocab entry {bad!r} is not one character")


def _readable_tokens(tokenizer: Tokenizer, ids: Iterable[int]) -> list[str]:
    """Token strings of ``ids`` for decoding: <s>, </s> dropped, <unk> kept as its name."""
    vocab = tokenizer.vocab
    size = len(vocab)
    out = []
    for token_id in ids:
        token_id = int(token_id)
        if not 0 <= token_id < size:
            raise ValueError(f"ids: token id {token_id} is outside the vocabulary [0, {size})")
        if token_id not in (tokenizer.bos_id, tokenizer.eos_id):
            out.append(vocab[token_id])
    return out


# ---------------------------------------------------------------------------------- word
class WordTokenizer(_ListTokenizer):
    """Words, numbers and punctuation marks, as cut by ``WORD_PATTERN``.

    ``"Hello, world!"`` -> ``["Hello", ",", "world", "!"]`` (``["hello", ...]`` with
    ``lowercase=True``). Words seen fewer than ``min_count`` times in training are not in the
    vocabulary and encode to ``<unk>``; the others follow the specials by descending count, ties
    alphabetical.

    ``decode`` joins tokens with one space, except none before ``CLOSING_PUNCTUATION`` and none
    after ``OPENING_BRACKETS``. So text already in that canonical form survives a round trip
    (``"i love cats."``, ``"hello, world!"``), any other text is normalised once:
    ``decode(encode(decode(encode(t)))) == decode(encode(t))`` (line breaks and repeated spaces
    become single spaces; an opening quote ``'`` gets glued to the word before it).
    """

    kind = "word"

    @classmethod
    def from_vocab(cls, tokens: Iterable[str], *, lowercase: bool = False) -> WordTokenizer:
        """Specials, then ``tokens`` in the given order (duplicates and specials skipped).

        With ``lowercase=True`` the tokens are lower-cased too, since text will be."""
        return cls._from_tokens(list(tokens), lowercase)

    @staticmethod
    def _cut(text: str) -> list[str]:
        return _WORD_RE.findall(text)

    def decode(self, ids: Iterable[int]) -> str:
        return join_words(_readable_tokens(self, ids))



def join_words(tokens: Iterable[str]) -> str:
    """Join word tokens with single spaces, none before closing punctuation or after an opening
    bracket: ``["hello", ",", "world", "!"]`` -> ``"hello, world!"``."""
    parts: list[str] = []
    previous = None
    for token in tokens:
        if (
            previous is not None
            and token not in CLOSING_PUNCTUATION
            and previous not in OPENING_BRACKETS
        ):
            parts.append(" ")
        parts.append(token)
        previous = token
    return "".join(parts)


# ---------------------------------------------------------------------------------- BPE
@lru_cache(maxsize=1)
def _bytes_to_symbols() -> dict[int, str]:
    """Byte-level alphabet (as in GPT-2 and ``tokenizers.pre_tokenizers.ByteLevel``): every byte
    gets a printable character; printable Latin-1 bytes keep their own, the others (space,
    control bytes, ...) are shifted above 255, so a space is ``Ġ`` and a newline ``Ċ``."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    table = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shifted)
            shifted += 1
    return table


@lru_cache(maxsize=1)
def _symbols_to_bytes() -> dict[str, int]:
    return {symbol: b for b, symbol in _bytes_to_symbols().items()}


def to_byte_symbols(text: str) -> str:
    """The byte-level spelling of ``text``: its UTF-8 bytes, one printable symbol each
    (``" the"`` -> ``"Ġthe"``, ``"é"`` -> ``"Ã©"``)."""
    table = _bytes_to_symbols()
    return "".join(table[b] for b in text.encode("utf-8"))


def from_byte_symbols(symbols: str, errors: str = "replace") -> str:
    """Inverse of ``to_byte_symbols``; incomplete UTF-8 handled by ``errors`` (a str.decode
    error handler). Characters outside the byte-level alphabet stand for themselves."""
    table = _symbols_to_bytes()
    data = bytearray()
    for ch in symbols:
        b = table.get(ch)
        if b is None:
            data += ch.encode("utf-8")
        else:
            data.append(b)
    return data.decode("utf-8", errors=errors)


class BPETokenizer(Tokenizer):
    """Byte-level byte-pair encoding, trained and run by the ``tokenizers`` library.

    Text is pre-split (GPT-2 style: a word with its leading space, a run of digits, a run of
    punctuation, whitespace) and each piece spelled in bytes (``to_byte_symbols``), so every
    string can be encoded without ``<unk>`` and ``decode(encode(t)) == t`` for any ``t``.
    Training starts from the 256 byte symbols and repeatedly adds the merge of the most frequent
    adjacent pair; ``merges`` lists them in the order learned. Token strings are byte-level
    (``"Ġthe"``); ``token_text`` shows them as text (``" the"``). Special-token strings typed in
    the text (``"<s>"``) are ordinary text, not special ids.
    """

    kind = "bpe"

    def __init__(self, hf_tokenizer: Any, *, lowercase: bool = False):
        self._hf = hf_tokenizer
        # Text that happens to contain "<s>" must stay text: exact round trip of any string.
        self._hf.encode_special_tokens = True
        self.lowercase = lowercase
        size = hf_tokenizer.get_vocab_size(with_added_tokens=True)
        vocab = [hf_tokenizer.id_to_token(i) for i in range(size)]
        if any(token is None for token in vocab):
            raise ModelLoadError("bpe tokenizer: token ids are not contiguous")
        if tuple(vocab[:3]) != SPECIAL_TOKENS:
            raise ModelLoadError(
                f"bpe tokenizer: ids 0, 1, 2 must be {', '.join(SPECIAL_TOKENS)}, got {vocab[:3]}"
            )
        self._set_vocab(vocab)
        model = json.loads(hf_tokenizer.to_str())["model"]
        self.merges: list[tuple[str, str]] = [_parse_merge(m) for m in model.get("merges", [])]

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        *,
        min_count: int = 1,
        lowercase: bool = False,
        vocab_size: int = 1000,
    ) -> BPETokenizer:
        """Learn merges until the vocabulary has ``vocab_size`` tokens (specials and the 256 byte
        symbols included) or the most frequent pair occurs fewer than ``min_count`` times."""
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

        _check_min_count(min_count)
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        smallest = len(SPECIAL_TOKENS) + len(alphabet)
        if not isinstance(vocab_size, int) or vocab_size < smallest:
            raise ValueError(f"vocab_size must be an integer >= {smallest}, got {vocab_size!r}")
        hf = HFTokenizer(models.BPE(unk_token=UNK))
        if lowercase:
            hf.normalizer = normalizers.Lowercase()
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_count,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=alphabet,
            show_progress=False,
        )
        hf.train_from_iterator(_as_texts(texts), trainer=trainer)
        return cls(hf, lowercase=lowercase)

    def tokenize(self, text: str) -> list[str]:
        return self._hf.encode(text, add_special_tokens=False).tokens

    def encode(self, text: str) -> list[int]:
        return self._hf.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        encodings = self._hf.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids for e in encodings]

    def decode(self, ids: Iterable[int]) -> str:
        out: list[str] = []
        run: list[int] = []
        for token_id in ids:
            token_id = int(token_id)
            if not 0 <= token_id < len(self.vocab):
                raise ValueError(
                    f"ids: token id {token_id} is outside the vocabulary [0, {len(self.vocab)})"
                )
            if token_id < len(SPECIAL_TOKENS):
                # A special token ends a run of byte-level tokens: decode the run on its own.
                if run:
                    out.append(self._hf.decode(run))
                    run = []
                if token_id == self.unk_id:
                    out.append(UNK)
            else:
                run.append(token_id)
        if run:
            out.append(self._hf.decode(run))
        return "".join(out)

    def token_text(self, token_id: int) -> str:
        """``"Ġthe"`` -> ``" the"``; a piece of a multi-byte character shows its byte
        (``"\\xe2"``) instead of an unreadable replacement mark."""
        token = self.vocab[self._check_id(token_id)]
        if token_id < len(SPECIAL_TOKENS):
            return token
        return from_byte_symbols(token, errors="backslashreplace")

    def pretokenize(self, text: str) -> list[str]:
        """The byte-level pieces BPE works on separately (merges never cross them)."""
        if self._hf.normalizer is not None:
            text = self._hf.normalizer.normalize_str(text)
        return [piece for piece, _ in self._hf.pre_tokenizer.pre_tokenize_str(text)]

    def merge_steps(self, text: str) -> list[MergeStep]:
        """``bpe_merge_steps`` with this tokenizer's own pre-splitting and merges: the last
        step's symbols are exactly ``tokenize(text)``."""
        return _replay_merges(self.pretokenize(text), self.merges)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "format_version": FORMAT_VERSION,
            "lowercase": self.lowercase,
            "tokenizer_json": self._hf.to_str(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BPETokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        if not isinstance(d, Mapping) or d.get("kind") != cls.kind:
            found = d.get("kind") if isinstance(d, Mapping) else None
            raise ModelLoadError(f"expected a bpe tokenizer, found kind {found!r}")
        source = d.get("tokenizer_json")
        if not isinstance(source, str):
            raise ModelLoadError("bpe tokenizer: 'tokenizer_json' must be a JSON string")
        try:
            spec = json.loads(source)
            hf = HFTokenizer.from_str(source)
        except Exception as exc:  # the library raises its own Exception subclasses
            raise ModelLoadError(f"bpe tokenizer: cannot rebuild it ({_first_line(exc)})") from exc
        model_type = (spec.get("model") or {}).get("type")
        decoder_type = (spec.get("decoder") or {}).get("type")
        if model_type != "BPE" or decoder_type != "ByteLevel":
            raise ModelLoadError(
                f"bpe tokenizer: expected a byte-level BPE, found model {model_type!r} "
                f"with decoder {decoder_type!r}"
            )
        return cls(hf, lowercase=bool(d.get("lowercase", False)))


def _parse_merge(merge: Any) -> tuple[str, str]:
    # tokenizers >= 0.20 writes merges as [left, right]; older versions as "left right".
    if isinstance(merge, str):
        left, right = merge.split(" ", 1)
        return left, right
    left, right = merge
    return str(left), str(right)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------------- BPE, by hand
#: Pure-Python approximation of the GPT-2 split that byte-level BPE applies before merging:
#: English contractions, a letter run with its leading space, a digit run with its leading
#: space, a run of other symbols with its leading space, whitespace (keeping the last space for
#: the next word). Exact for ASCII; ``BPETokenizer.pretokenize`` uses the library's own split.
BYTE_LEVEL_SPLIT_PATTERN = (
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
)
_BYTE_LEVEL_SPLIT_RE = re.compile(BYTE_LEVEL_SPLIT_PATTERN)


@dataclass(frozen=True)
class MergeStep:
    """One state of a BPE segmentation replay.

    ``words`` holds the symbols of each pre-split piece after the merge ``pair`` (the
    ``rank``-th learned merge) was applied ``count`` times; the first state has ``pair=None``
    and the characters (or byte symbols) of each piece."""

    pair: tuple[str, str] | None
    rank: int | None
    count: int
    words: tuple[tuple[str, ...], ...]

    @property
    def symbols(self) -> tuple[str, ...]:
        """All symbols, pieces concatenated."""
        return tuple(s for word in self.words for s in word)


def bpe_merge_steps(
    word_or_text: str, merges: Sequence[tuple[str, str]], *, byte_level: bool = True
) -> list[MergeStep]:
    """Replay learned ``merges`` on a word or text, one step per merge that applied.

    Segmentation rule (the one BPE tokenizers use): among the adjacent pairs present, take the
    one learned earliest and merge all its occurrences left to right; repeat until no adjacent
    pair is a learned merge. With ``byte_level=True`` (merges from ``BPETokenizer``) the text is
    split by ``BYTE_LEVEL_SPLIT_PATTERN`` and spelled in byte symbols (space = ``Ġ``); with
    ``byte_level=False`` (merges from ``learn_bpe``) it is split on whitespace into words.
    """
    if byte_level:
        pieces = [to_byte_symbols(p) for p in _BYTE_LEVEL_SPLIT_RE.findall(word_or_text)]
    else:
        pieces = word_or_text.split()
    return _replay_merges(pieces, merges)


def _replay_merges(pieces: Sequence[str], merges: Sequence[tuple[str, str]]) -> list[MergeStep]:
    rank_of: dict[tuple[str, str], int] = {}
    for rank, pair in enumerate(merges):
        rank_of.setdefault(tuple(pair), rank)
    words = [tuple(piece) for piece in pieces]
    steps = [MergeStep(None, None, 0, tuple(words))]
    while True:
        present = {rank_of[pair] for word in words for pair in pairwise(word) if pair in rank_of}
        if not present:
            return steps
        rank = min(present)
        pair = tuple(merges[rank])
        count = 0
        for i, word in enumerate(words):
            words[i], n = _merge_pair(word, pair)
            count += n
        steps.append(MergeStep(pair, rank, count, tuple(words)))


def _merge_pair(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[tuple[str, ...], int]:
    """Merge non-overlapping occurrences of ``pair`` left to right: (a, a, a) -> (aa, a)."""
    out: list[str] = []
    merged = 0
    i = 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(word[i] + word[i + 1])
            merged += 1
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out), merged


@dataclass(frozen=True)
class LearnedMerge:
    """One training step of ``learn_bpe``: the merged ``pair``, how often it occurred
    (``count``), the vocabulary after the merge and the corpus segmentation after it
    (``corpus``: each distinct word's symbols with its frequency)."""

    pair: tuple[str, str]
    count: int
    vocab: tuple[str, ...]
    corpus: tuple[tuple[tuple[str, ...], int], ...]

    @property
    def merged(self) -> str:
        """The new token: ``pair[0] + pair[1]``."""
        return self.pair[0] + self.pair[1]


def learn_bpe(
    corpus_words: Mapping[str, int] | Iterable[str], num_merges: int
) -> list[LearnedMerge]:
    """Learn up to ``num_merges`` BPE merges from a word-frequency table.

    ``corpus_words`` is ``{"hug": 10, "pug": 5, ...}`` or a list of words/sentences (split on
    whitespace and counted). Start: every word spelled in characters, vocabulary = its distinct
    characters. Each step:

        count(a, b) = Σ_words freq(word) · #positions where a is followed by b
        (a*, b*)    = argmax count(a, b)         -> new token a*b*, merged in every word

    Ties go to the pair whose left symbol entered the vocabulary first, then whose right symbol
    did (characters enter in code-point order, merged tokens in the order learned): the same
    rule as the ``tokenizers`` library's trainer. Stops early when every word is one symbol.
    """
    if not isinstance(num_merges, int) or num_merges < 0:
        raise ValueError(f"num_merges must be an integer >= 0, got {num_merges!r}")
    if isinstance(corpus_words, Mapping):
        freqs = dict(corpus_words)
        for word, freq in freqs.items():
            if not isinstance(word, str) or not word or not isinstance(freq, int) or freq < 1:
                raise ValueError(
                    f"corpus_words must map non-empty words to counts >= 1, got {word!r}: {freq!r}"
                )
    else:
        freqs = dict(Counter(w for text in _as_texts(corpus_words) for w in text.split()))

    words = [tuple(word) for word in freqs]
    counts = list(freqs.values())
    # Order in which symbols entered the vocabulary: the tie-breaker.
    order = {ch: i for i, ch in enumerate(sorted({ch for word in freqs for ch in word}))}
    steps: list[LearnedMerge] = []
    for _ in range(num_merges):
        pair_counts: Counter[tuple[str, str]] = Counter()
        for word, freq in zip(words, counts):
            for pair in pairwise(word):
                pair_counts[pair] += freq
        if not pair_counts:
            break
        best = min(pair_counts, key=lambda p: (-pair_counts[p], order[p[0]], order[p[1]]))
        words = [_merge_pair(word, best)[0] for word in words]
        order.setdefault(best[0] + best[1], len(order))
        steps.append(
            LearnedMerge(
                pair=best,
                count=pair_counts[best],
                vocab=tuple(order),
                corpus=tuple(zip(words, counts)),
            )
        )
    return steps


# ---------------------------------------------------------------------------------- factory
TOKENIZER_KINDS: dict[str, type[Tokenizer]] = {
    "char": CharTokenizer,
    "word": WordTokenizer,
    "bpe": BPETokenizer,
}


def make_tokenizer(kind: str, texts: Iterable[str], **opts: Any) -> Tokenizer:
    """Train a tokenizer of ``kind`` ("char", "word" or "bpe") on ``texts``."""
    if kind not in TOKENIZER_KINDS:
        raise ValueError(f"kind must be one of {', '.join(TOKENIZER_KINDS)}, got {kind!r}")
    return TOKENIZER_KINDS[kind].train(texts, **opts)


def tokenizer_from_dict(d: Mapping[str, Any]) -> Tokenizer:
    """Rebuild any tokenizer from its ``to_dict()``, dispatching on ``d["kind"]``."""
    if not isinstance(d, Mapping):
        raise ModelLoadError("a tokenizer must be a JSON object")
    kind = d.get("kind")
    if kind not in TOKENIZER_KINDS:
        raise ModelLoadError(
            f"unknown tokenizer kind {kind!r} (expected {', '.join(TOKENIZER_KINDS)})"
        )
    version = d.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ModelLoadError(
            f"tokenizer format_version {version!r} is not supported (expected {FORMAT_VERSION})"
        )
    return TOKENIZER_KINDS[kind].from_dict(d)


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Read a tokenizer saved by ``Tokenizer.save``; a directory means its ``tokenizer.json``.

    A missing, unreadable, corrupt or mismatched file raises ModelLoadError naming the file."""
    path = Path(path)
    if path.is_dir():
        path = path / "tokenizer.json"
    from arlm_tui import inputs

    if not path.exists() and not path.is_symlink():
        raise ModelLoadError("tokenizer file not found", path=path)
    with inputs.reported_as(ModelLoadError):  # a regular file, size and depth bounded
        d = inputs.load_json(path, limit=inputs.LIMITS["tokenizer"], what="tokenizer")
    try:
        return tokenizer_from_dict(d)
    except ModelLoadError as exc:
        raise ModelLoadError(str(exc), path=path) from None
