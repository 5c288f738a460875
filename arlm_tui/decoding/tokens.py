"""``TokenSeq``: a token sequence stored once and shared by every text that extends it.

A generation keeps many texts that differ only by their last tokens: the context of every step
of a session, every beam hypothesis, every step's survivors. Copying each one would make memory
grow with the square of the text length. A ``TokenSeq`` is a persistent linked list instead:
each node holds one token and a pointer to the sequence it extends, so ``seq.append(t)`` costs
one small object and a thousand texts that share a prefix store it once.

Reading is cheap where decoding needs it: ``len(seq)``, ``seq.last``, ``seq[-k:]`` and
``seq[-i]`` for small k and i walk only the last nodes (an n-gram reads its last n−1 tokens
this way, whatever the length of the text). Reading the whole text (``tolist()``, iteration,
``np.asarray``) is linear; to keep it fast, every node whose length is a multiple of
``CHUNK`` remembers, the first time the text is read, the tuple of the ``CHUNK`` tokens that end
at it and the node ``CHUNK`` tokens back, so a second reading copies chunks, not nodes. The
chunks hold each token once more at most: memory stays linear.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np

#: Tokens per remembered chunk (see the module docstring).
CHUNK = 256
#: A read of at most this many tokens from the end walks the nodes instead of the chunks.
_TAIL = 64


class TokenSeq(Sequence[int]):
    """An immutable sequence of token ids that shares its prefix with the sequence it extends.

    ``TokenSeq.of(ids)`` builds one; ``seq.append(token)`` returns the longer sequence (``seq``
    itself is unchanged). Equality is by content with any sequence of ints."""

    __slots__ = ("_chunk", "_len", "_parent", "_token")
    _parent: TokenSeq | None
    _token: int
    _len: int
    _chunk: tuple[tuple[int, ...], TokenSeq] | None

    def __init__(self, parent: TokenSeq | None = None, token: int = -1):
        self._parent = parent
        self._token = int(token)
        self._len = 0 if parent is None else parent._len + 1
        self._chunk = None

    @classmethod
    def of(cls, ids: Iterable[int] = ()) -> TokenSeq:
        """The sequence of ``ids`` (itself if already a TokenSeq)."""
        if isinstance(ids, TokenSeq):
            return ids
        return EMPTY.extend(ids)

    def append(self, token: int) -> TokenSeq:
        """This sequence followed by ``token`` (a new node; this one is unchanged)."""
        return TokenSeq(self, token)

    def extend(self, ids: Iterable[int]) -> TokenSeq:
        """This sequence followed by ``ids``, one node each."""
        seq = self
        for token in ids:
            seq = TokenSeq(seq, token)
        return seq

    # ------------------------------------------------------------------ cheap reads
    def __len__(self) -> int:
        return self._len

    @property
    def parent(self) -> TokenSeq | None:
        """The sequence without its last token (None for the empty sequence)."""
        return self._parent

    @property
    def last(self) -> int:
        """The last token; IndexError if empty."""
        if self._parent is None:
            raise IndexError("last of an empty TokenSeq")
        return self._token

    def tail(self, k: int) -> list[int]:
        """The last ``k`` tokens (fewer if the sequence is shorter), walking k nodes."""
        out: list[int] = []
        node = self
        for _ in range(min(max(int(k), 0), self._len)):
            out.append(node._token)
            node = node._parent  # type: ignore[assignment]
        out.reverse()
        return out

    # ------------------------------------------------------------------ whole reads
    def _chunk_at(self) -> tuple[tuple[int, ...], TokenSeq]:
        """(the CHUNK tokens ending here, the node CHUNK back); only for a boundary node."""
        chunk = self._chunk
        if chunk is None:
            tokens: list[int] = []
            node = self
            for _ in range(CHUNK):
                tokens.append(node._token)
                node = node._parent  # type: ignore[assignment]
            tokens.reverse()
            chunk = self._chunk = (tuple(tokens), node)
        return chunk

    def tolist(self) -> list[int]:
        """Every token, first to last, as a new list."""
        tail: list[int] = []
        node = self
        while node._len % CHUNK:
            tail.append(node._token)
            node = node._parent  # type: ignore[assignment]
        tail.reverse()
        chunks: list[tuple[int, ...]] = []
        while node._len:
            chunk, node = node._chunk_at()
            chunks.append(chunk)
        out: list[int] = []
        for chunk in reversed(chunks):
            out.extend(chunk)
        out.extend(tail)
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(self.tolist())

    def __reversed__(self) -> Iterator[int]:
        node = self
        while node._parent is not None:
            yield node._token
            node = node._parent

    def __contains__(self, value: object) -> bool:
        return value in self.tolist()

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        n = self._len
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step == 1 and stop == n and n - start <= _TAIL:
                return self.tail(n - start)
            return self.tolist()[index]
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("TokenSeq index out of range")
        if n - i <= _TAIL:
            node = self
            for _ in range(n - 1 - i):
                node = node._parent  # type: ignore[assignment]
            return node._token
        return self.tolist()[i]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self.tolist(), dtype=dtype if dtype is not None else np.int64)

    # ------------------------------------------------------------------ comparisons
    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if isinstance(other, TokenSeq):
            return self._len == other._len and self.tolist() == other.tolist()
        if isinstance(other, list | tuple):
            return self._len == len(other) and self.tolist() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which are not hashable

    def __repr__(self) -> str:
        return f"TokenSeq({self.tolist()!r})"


#: The empty sequence, the root every TokenSeq grows from.
EMPTY = TokenSeq()
