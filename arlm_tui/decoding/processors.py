"""Logits processors: small pure steps that reshape the next-token distribution before a choice.

Each processor is called as ``processor(context_ids, logits) -> new_logits``. It never changes
its input; a token it removes gets the logit ``-inf`` (probability exactly 0 after the softmax);
at least one token always survives. The semantics follow Hugging Face transformers'
``generation/logits_process.py`` (``min_tokens_to_keep = 1``, ``filter_value = -inf``).

They run in one fixed order, the order of ``PROCESSORS`` (names: ``PROCESSOR_ORDER``):

0. ``LogitBias``        - add a bias to chosen tokens' logits, -inf bans (first, as llama.cpp);
1. ``MinLength``         - no ``</s>`` before ``min_tokens`` new tokens exist;
2. ``RepetitionPenalty`` - tokens already in the context become less likely (scaled once);
3. ``FrequencyPenalty``  - minus f per time a token was generated (OpenAI);
4. ``PresencePenalty``   - minus p once for every token generated at least once (OpenAI);
5. ``Dry``               - minus multiplier·base^(n - allowed) for a token extending a repeat;
6. ``NoRepeatNGram``     - no n-gram may occur twice;
7. ``Temperature``       - z / T: sharper (T < 1) or flatter (T > 1);
8. ``TopNSigma``         - keep tokens whose logit is within n·σ(logits) of the top (any T);
9. ``TopK``              - keep the k most probable tokens;
10. ``TopP``             - keep the smallest set whose probability reaches p (the nucleus);
11. ``MinP``             - drop tokens below min_p x the largest probability;
12. ``TypicalP``         - keep the tokens whose surprisal is closest to the entropy;
13. ``Epsilon``          - drop tokens whose probability is below epsilon;
14. ``Eta``              - drop tokens below η = min(ε, √ε·exp(-H)), a cut that follows the entropy;
15. ``XTC``              - at a seeded random share of steps, drop the top choices but one;
16. ``Mirostat``         - drop tokens more surprising than μ, a bound that learns from each choice.

The first six change what the model may say and apply to every strategy; the others
("warpers", ``warper = True``) shape the sampling distribution and only apply when sampling.
``warp`` applies the warpers to one vector of logits and returns the final sampling distribution.

Each processor class declares the knobs it reads (``knobs``, a ``Knob`` each: range, off value,
steps, help, title) and builds itself from their values (``build``). ``PROCESSORS`` is the one
list: ``make_processors``, ``warp``, ``config.KNOBS`` / ``DecodingConfig``, the command-line
flags, the knob panel, the labs' playground and the explanations are derived from it. Adding a
processor means writing its class, adding it to ``PROCESSORS`` and testing it
(``tests/test_add_a_processor.py`` adds one to a copy of the package and checks that no other
file needs an edit).

Model log-probabilities are used as the logits: softmax(log p) = p, so the order of operations
is the same as in a library that starts from raw network outputs.

The processors that read the whole context (the penalties, no-repeat-n-gram) remember
what they read from the last ``TokenSeq`` context they were given; when the next call's context
is that one plus a token (a session's next step) they update it for that token alone, so a step
costs the same at token 10,000 as at token 100. Any other context is read afresh. The memo never
changes a result.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from arlm_tui.decoding.draws import XTC_STREAM, step_draw
from arlm_tui.decoding.knobs import (
    SAMPLE,
    Knob,
    KnobValueError,
    TokenBias,
    bias_text,
    check_number,
)
from arlm_tui.decoding.tokens import TokenSeq
from arlm_tui.lm.information import entropy_nats as entropy  # the step's H(p), unchecked

NEG_INF = -np.inf

class LogitsProcessor(Protocol):
    """What every processor looks like. A processor may also say ``removes_only = True``:
    it only sets logits to -inf and leaves the others as they were (so the distribution after
    it is the one before, renormalised over the tokens left); and ``uses_probs = True``: it
    accepts ``probs=softmax(logits)`` from a caller that has it already, instead of
    computing it again."""

    name: str
    label: str

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray: ...


class ProbsProcessor(Protocol):
    """A processor that says ``uses_probs = True``: it also takes ``probs = softmax(logits)``
    (None: it computes them)."""

    name: str
    label: str

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray,
                 probs: np.ndarray | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class BuildContext:
    """What a processor may need besides its knobs' values: the ``</s>`` id and the prompt's
    length. (Room for later processors: a vocabulary for stop strings or a logit bias, a draw
    stream for a processor that needs step randomness.)"""

    eos_id: int = 2
    prompt_length: int = 0
    breakers: frozenset[int] = frozenset()  # DRY's sequence breakers (``dry_breaker_ids``)
    seed: int = 0  # the generation's seed: XTC's draws come from it
    #: a token as typed -> its id in the model's vocabulary (ValueError naming the token and
    #: the model if it has none); the logit bias needs it
    token_id: Callable[[str], int] | None = None


class Processor:
    """Base of the processor classes: the knobs a processor reads and how it builds itself.

    ``knobs``: its knobs, the first the one that switches it on (at ``knob.off`` the processor
    is left out). ``warper``: it shapes the sampling distribution only (greedy and beam search
    leave it out). ``removes_only`` / ``uses_probs``: see ``LogitsProcessor``. A processor that
    keeps state from step to step must give the same result for a context read afresh (as the
    context memo of ``RepetitionPenalty`` does), since a session undoes and replays steps. (A
    processor that must learn from the chosen token, as mirostat does, or that needs the
    step's random draw, will need a hook the strategies call; ``BuildContext`` is where what
    it is given at build time goes.) ``carries_state``: its result depends on the steps before
    (mirostat's μ, which the Session carries from one step to the next), so one step shows
    only its first state.
    """

    name: str
    knobs: ClassVar[tuple[Knob, ...]]
    warper: ClassVar[bool] = False
    removes_only: ClassVar[bool] = False
    uses_probs: ClassVar[bool] = False
    carries_state: ClassVar[bool] = False
    label: str

    @classmethod
    def build(cls, values: dict[str, Any], context: BuildContext) -> Processor | None:
        """The processor for these (already checked) knob values, or None when it is off."""
        value = values[cls.knobs[0].name]
        if value == cls.knobs[0].off:
            return None
        return cls(value)  # type: ignore[call-arg]  # a subclass's __init__ takes the value

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        raise NotImplementedError


# ------------------------------------------------------------------------------ numeric helpers
def softmax(logits: np.ndarray) -> np.ndarray:
    """p_i = exp(z_i - m) / Σ_j exp(z_j - m), m = max z: stable for any scale of z.

    Tokens at ``-inf`` get exactly 0. Raises ValueError when no token is finite."""
    z = np.asarray(logits, dtype=np.float64)
    m = np.maximum.reduce(z) if z.size else NEG_INF  # ufuncs directly: a decoding step's
    if not math.isfinite(m):  # hot path, where numpy's method wrappers cost as much
        raise ValueError("logits: no token has a finite logit, so there is no distribution")
    e = z - m
    np.exp(e, out=e)
    e /= np.add.reduce(e)
    return e


def _logits_array(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 1 or z.size == 0:
        raise ValueError(f"logits must be a non-empty 1-D array, got shape {z.shape}")
    return z


def _logits_and_probs(
    logits: np.ndarray, probs: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(z, softmax(z)) for a processor that reads probabilities: ``probs`` when the caller has
    them already (``uses_probs``), else computed here."""
    z = _logits_array(logits)
    return z, softmax(z) if probs is None else probs


def _remove(logits: np.ndarray, remove: np.ndarray) -> np.ndarray:
    """``logits`` with ``remove`` set to -inf, keeping the arg-max if nothing else would survive."""
    if np.all(remove | (logits == NEG_INF)):
        remove = remove.copy()
        remove[int(np.argmax(logits))] = False
    return np.where(remove, NEG_INF, logits)


def _remove_ids(logits: np.ndarray, ids: np.ndarray | int) -> np.ndarray:
    """``_remove`` for the token ids ``ids``."""
    remove = np.zeros(logits.shape, dtype=bool)
    remove[ids] = True
    return _remove(logits, remove)


def _remove_sorted(logits: np.ndarray, order: np.ndarray, sorted_remove: np.ndarray) -> np.ndarray:
    """``_remove`` with a mask given in the token order ``order`` (sorted_remove[i] is about
    token order[i])."""
    remove = np.empty_like(sorted_remove)
    remove[order] = sorted_remove
    return _remove(logits, remove)


def _descending_order(z: np.ndarray) -> np.ndarray:
    """Token ids by decreasing logit; ties by increasing id (the order greedy uses)."""
    return np.argsort(-z, kind="stable")


#: Up to this many values, one stable sort beats partitioning first (fewer numpy calls).
_SORT_ALL = 1024


def top_indices(values: np.ndarray, k: int) -> np.ndarray:
    """Ids of the k largest values, largest first, ties by smaller id (O(V) + O(k log k))."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if values.size <= _SORT_ALL:
        return np.argsort(-values, kind="stable")[:k]
    if k < values.size:
        kth = np.partition(values, values.size - k)[values.size - k]  # no negated copy
        candidates = np.flatnonzero(values >= kth)  # every tie with the k-th
    else:
        candidates = np.arange(values.size)
    return candidates[np.lexsort((candidates, -values[candidates]))][:k]


#: Bins of ``_crossing``: a token's bin is a linear function of its sort key.
_BINS = 2048


def _crossing(key: np.ndarray, probs: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Where the probability mass of the tokens, taken by increasing ``key`` (ties by id),
    first reaches ``limit``, without sorting the vocabulary: the tokens are binned by key
    (bin = a linear function of the key, so the order of bins is the order of keys), the
    mass of each bin summed, and only the bin where the running mass reaches ``limit`` is
    sorted. Tokens whose key is +inf are in no bin.

    Returns (ahead, ranked, mass_before): ``ahead`` marks the tokens of the bins before that
    one (all of them come first), ``ranked`` the ids of that bin in order, ``mass_before``
    the mass ahead of it. If the whole mass stays below ``limit``, ``ranked`` is empty and
    ``ahead`` marks every binned token.
    """
    lo = float(np.minimum.reduce(key))
    hi = float(np.max(key, where=key < np.inf, initial=lo))
    scaled = key - lo  # few temporaries: each new array of V floats costs page faults
    if hi > lo:
        scaled *= (_BINS - 1) / (hi - lo)
        np.minimum(scaled, _BINS, out=scaled)  # +inf: bin _BINS, outside
    else:
        np.minimum(scaled, 1.0, out=scaled)  # one finite value: bin 0, +inf: bin 1 …
        scaled *= _BINS  # … then _BINS
    bins = scaled.astype(np.intp)
    mass = np.cumsum(np.bincount(bins, weights=probs, minlength=_BINS + 1)[:_BINS])
    c = int(np.searchsorted(mass, limit))  # the first bin whose running mass reaches limit
    if c >= _BINS:
        return bins < _BINS, np.zeros(0, dtype=np.intp), float(mass[-1])
    ids = np.flatnonzero(bins == c)
    return bins < c, ids[np.lexsort((ids, key[ids]))], float(mass[c - 1]) if c else 0.0


def _fmt(x: float) -> str:
    return f"{x:g}"


# ------------------------------------------------------------------------------ processors
class LogitBias(Processor):
    """A bias added to the logits of chosen tokens: z_w <- z_w + b_w (OpenAI's ``logit_bias``,
    llama.cpp's ``--logit-bias``); b_w = -inf bans w. With log-probs as logits, a bias b
    multiplies the token's odds by e^b before renormalising. It applies to every strategy and
    runs first, as in llama.cpp. If it would ban every possible token, the most probable
    one stays. ``note``: the (id, bias) pairs it applied, for the explanations.

    The knob holds tokens as typed (``the``, or how the tokenizer writes one token); the
    build looks them up in the model's vocabulary (``BuildContext.token_id``).
    """

    name = "logit_bias"
    knobs = (Knob("logit_bias", dict, -100.0, 100.0, 1.0, 5.0, TokenBias(),
                  "add a bias to a token's logit: TOKEN=VALUE, ban = -inf; repeat for more "
                  "tokens (none = off)", group="penalty", short=("bias",), switchable=True),)

    @classmethod
    def build(cls, values: dict[str, Any], context: BuildContext) -> LogitBias | None:
        bias = values["logit_bias"]
        if not bias:
            return None
        if context.token_id is None:
            raise KnobValueError(
                "logit_bias", "logit_bias: a model's vocabulary is needed to find its tokens")
        ids: dict[int, float] = {}
        names: dict[int, str] = {}
        for token, value in bias.items():
            token_id = context.token_id(token)
            ids[token_id] = value
            names[token_id] = token
        return cls(ids, names)

    def __init__(self, bias: Mapping[int, float], names: Mapping[int, str] | None = None):
        self.bias = {int(i): float(b) for i, b in bias.items()}
        for token_id, b in self.bias.items():
            if token_id < 0 or math.isnan(b) or b == math.inf:
                raise KnobValueError("logit_bias", f"logit_bias: bad entry {token_id}: {b}")
        self.names = dict(names or {})
        self._ids = np.array(list(self.bias), dtype=np.int64)
        self._values = np.array(list(self.bias.values()), dtype=np.float64)
        shown = ", ".join(f"{self.names.get(i, str(i))} {bias_text(b)}"
                          for i, b in self.bias.items())
        self.label = f"logit bias {shown}" if len(self.bias) <= 2 else (
            f"logit bias on {len(self.bias)} tokens")
        self.note: tuple[tuple[int, float], ...] = tuple(self.bias.items())

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        z = _logits_array(logits)
        if self._ids.size and self._ids.max() >= z.size:
            raise KnobValueError("logit_bias", f"logit_bias: token id {int(self._ids.max())} "
                                 f"is outside the vocabulary of {z.size}")
        out = z.copy()
        out[self._ids] += self._values  # -inf stays -inf; a ban makes -inf
        if not np.isfinite(out).any() and np.isfinite(z).any():
            best = int(np.argmax(z))  # everything banned: the most probable token stays
            out[best] = z[best]
        return out


class MinLength(Processor):
    """Forbid ``</s>`` until ``min_tokens`` new tokens follow the prompt.

    new = len(context) - prompt_length; if new < min_tokens: z[eos] = -inf. (HF
    ``MinNewTokensLengthLogitsProcessor``.) If ``</s>`` is the only possible token it stays.
    """

    name = "min_length"
    removes_only = True  # kept tokens keep their logits
    knobs = (Knob("min_tokens", int, 0, 10_000, 1, 10, 0,
                  "</s> is not allowed before this many new tokens (0 = off)",
                  group="length", short=("min-tok",), switchable=True),)

    @classmethod
    def build(cls, values: dict[str, Any], context: BuildContext) -> MinLength | None:
        n = values["min_tokens"]
        return cls(n, context.eos_id, context.prompt_length) if n > 0 else None

    def __init__(self, min_tokens: int, eos_id: int, prompt_length: int = 0):
        self.min_tokens = int(check_number("min_tokens", min_tokens, 0, math.inf, integer=True))
        self.eos_id = int(check_number("eos_id", eos_id, 0, math.inf, integer=True))
        self.prompt_length = int(
            check_number("prompt_length", prompt_length, 0, math.inf, integer=True)
        )
        self.label = f"min tokens = {self.min_tokens}"

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        z = _logits_array(logits)
        out = z.copy()
        if len(context_ids) - self.prompt_length < self.min_tokens:
            out[self.eos_id] = NEG_INF
            if out.max() == NEG_INF:  # </s> was the only possible token: it stays
                return z.copy()
        return out


class RepetitionPenalty(Processor):
    """Make tokens already in the context less likely (CTRL, Keskar et al. 2019; HF semantics).

    For every token w in the context: z_w <- z_w · penalty if z_w < 0, else z_w / penalty.
    With log-probs as logits (all <= 0), penalty > 1 pushes repeated tokens down; 1.0 = off.
    """

    name = "repetition_penalty"
    knobs = (Knob("repetition_penalty", float, 0.0, 100.0, 0.05, 0.5, 1.0,
                  "above 1, tokens already in the text become less likely (1 = off)",
                  min_open=True, group="penalty", short=("rep-penalty", "rep-pen"),
                  switchable=True),)

    def __init__(self, penalty: float):
        self.penalty = float(check_number("repetition_penalty", penalty, 0, math.inf,
                                          lo_open=True, hi_open=True))
        self.label = f"repetition penalty = {_fmt(self.penalty)}"

        self._seen = _SeenTokens()

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        z = _logits_array(logits).copy()
        if len(context_ids) == 0:
            return z
        seen = self._seen(context_ids)
        score = z[seen]
        z[seen] = np.where(score < 0, score * self.penalty, score / self.penalty)
        return z


class _GeneratedCounts:
    """How often each token id occurs after the prompt (a float vector over the vocabulary),
    remembered for the last TokenSeq read: a next step adds its one token, so a step costs the
    same at token 10,000 as at token 100 (see the module docstring). The prompt does not count
    (OpenAI's penalties count the tokens the model has generated)."""

    def __init__(self, prompt_length: int) -> None:
        self.prompt_length = prompt_length
        self._memo: tuple[TokenSeq, np.ndarray] | None = None

    def __call__(self, context_ids: Sequence[int], size: int) -> np.ndarray:
        memo = self._memo
        if isinstance(context_ids, TokenSeq) and memo is not None and memo[1].size == size:
            if memo[0] is context_ids:
                return memo[1]
            if context_ids.parent is memo[0]:
                counts = memo[1]  # updated in place: the memo moves on to this context
                if len(context_ids) > self.prompt_length:
                    counts[context_ids.last] += 1.0
                self._memo = (context_ids, counts)
                return counts
        ids = np.asarray(context_ids, dtype=np.int64)[self.prompt_length:]
        counts = np.bincount(ids, minlength=size)[:size].astype(np.float64)
        if isinstance(context_ids, TokenSeq):
            self._memo = (context_ids, counts)
        return counts


class _OpenAIPenalty(Processor):
    """Base of the two additive penalties of the OpenAI API: z_w <- z_w - amount(count_w),
    count_w the number of times w was generated so far (the prompt does not count)."""

    @classmethod
    def build(cls, values: dict[str, Any], context: BuildContext) -> Processor | None:
        value = values[cls.knobs[0].name]
        return None if value == cls.knobs[0].off else cls(value, context.prompt_length)

    def __init__(self, penalty: float, prompt_length: int = 0):
        knob = self.knobs[0]
        self.penalty = float(check_number(knob.name, penalty, knob.min, knob.max))
        self.prompt_length = int(
            check_number("prompt_length", prompt_length, 0, math.inf, integer=True)
        )
        self.label = f"{knob.title.replace('-', ' ')} = {_fmt(self.penalty)}"
        self._counts = _GeneratedCounts(self.prompt_length)

    def amount(self, counts: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        z = _logits_array(logits)
        if len(context_ids) <= self.prompt_length:
            return z.copy()
        return z - self.amount(self._counts(context_ids, z.size))  # -inf stays -inf


class FrequencyPenalty(_OpenAIPenalty):
    """OpenAI's frequency penalty: z_w <- z_w - f · count_w, count_w the number of times w was
    generated so far (the prompt does not count). It grows with every repeat, where the
    repetition penalty scales a token once however often it occurred; f < 0 favours repeats."""

    name = "frequency_penalty"
    knobs = (Knob("frequency_penalty", float, -2.0, 2.0, 0.05, 0.5, 0.0,
                  "subtract f × (times the token was generated) from its logit (0 = off)",
                  group="penalty", short=("freq-penalty", "freq-pen"), switchable=True),)

    def amount(self, counts: np.ndarray) -> np.ndarray:
        return counts * self.penalty


class PresencePenalty(_OpenAIPenalty):
    """OpenAI's presence penalty: z_w <- z_w - p · [count_w > 0]: the same push down for every
    token generated at least once, however often (the prompt does not count)."""

    name = "presence_penalty"
    knobs = (Knob("presence_penalty", float, -2.0, 2.0, 0.05, 0.5, 0.0,
                  "subtract p from the logit of every token generated at least once (0 = off)",
                  group="penalty", short=("pres-penalty", "pres-pen"), switchable=True),)

    def amount(self, counts: np.ndarray) -> np.ndarray:
        return (counts > 0) * self.penalty


#: DRY's default sequence breakers (text-generation-webui's and llama.cpp's).
DRY_BREAKERS: tuple[str, ...] = ("\n", ":", '"', "*")
#: DRY follows a repeat back at most this many tokens (as the reference does).
DRY_MAX_MATCH = 50


def dry_breaker_ids(tokenizer: Any, breakers: Sequence[str] = DRY_BREAKERS) -> frozenset[int]:
    """The token ids of DRY's sequence breakers for ``tokenizer``: every token that is a
    breaker (what the tokenizer encodes a breaker string as, when that is one known token) or
    whose text contains one (a BPE model's ``' "'`` or ``'.\\n\\n'``, a word model's token
    ``'a:b'``), so that a repeat never runs across a line break or a quote however the
    tokenizer cut it. A word-level tokenizer has no token for a line break (it is
    whitespace); its ``"``, ``:`` and ``*`` are tokens of their own. Computed once per
    tokenizer (a BPE vocabulary is read token by token)."""
    try:
        return _breaker_ids(tokenizer, tuple(breakers))
    except TypeError:  # a tokenizer that cannot be a cache key: no cache
        return _breaker_ids.__wrapped__(tokenizer, tuple(breakers))


@functools.lru_cache(maxsize=8)
def _breaker_ids(tokenizer: Any, breakers: tuple[str, ...]) -> frozenset[int]:
    ids: set[int] = set()
    unknown = getattr(tokenizer, "unk_id", None)
    for text in breakers:
        try:
            encoded = list(tokenizer.encode(text))
        except Exception:  # noqa: BLE001 - a tokenizer that cannot encode it has no such token
            continue
        if len(encoded) == 1 and encoded[0] != unknown:
            ids.add(int(encoded[0]))
    vocab = getattr(tokenizer, "vocab", None)
    if vocab is None:
        return frozenset(ids)
    if getattr(tokenizer, "kind", "") in ("word", "char"):
        texts: Sequence[str] = vocab  # the pieces as they are
    else:  # byte-level or other token strings: as each token reads on its own
        texts = [tokenizer.token_text(i) for i in range(len(vocab))]
    specials = {getattr(tokenizer, name, None) for name in ("unk_id", "bos_id", "eos_id")}
    for token_id, text in enumerate(texts):
        if token_id not in specials and any(b in text for b in breakers):
            ids.add(token_id)
    return frozenset(ids)


class _ContextArray:
    """The context as an int64 array, remembered for the last TokenSeq read and grown by one
    token for the next step (amortised O(1)), so a step does not copy the whole context."""

    def __init__(self) -> None:
        self._memo: tuple[TokenSeq, np.ndarray, int] | None = None  # (seq, buffer, length)

    def __call__(self, context_ids: Sequence[int]) -> np.ndarray:
        if not isinstance(context_ids, TokenSeq):
            return np.asarray(context_ids, dtype=np.int64)
        memo = self._memo
        if memo is not None and memo[0] is context_ids:
            return memo[1][: memo[2]]
        if memo is not None and context_ids.parent is memo[0]:
            _, buffer, n = memo
            if n == buffer.size:
                buffer = np.concatenate([buffer, np.empty(max(n, 64), dtype=np.int64)])
            buffer[n] = context_ids.last
            self._memo = (context_ids, buffer, n + 1)
            return buffer[: n + 1]
        ids = np.asarray(context_ids.tolist(), dtype=np.int64)
        self._memo = (context_ids, ids, ids.size)
        return ids


class Dry(Processor):
    """DRY, "don't repeat yourself" (text-generation-webui and llama.cpp): a token that would
    extend a repeat gets its logit lowered by multiplier · base^(n - allowed_length), n the
    length of the repeat, when n >= allowed_length.

    The repeat: the context ends with the same n tokens that once came before token w, so w
    would continue it. For every earlier occurrence of the last token, the match is followed
    backwards (at most 50 tokens) until the tokens differ or a sequence breaker is met (a
    breaker as the last token, or as the token that followed, means no match at all); w keeps
    its longest match. So a longer repeat is punished exponentially harder, while short common
    phrases (below allowed_length) are left alone. The whole context counts, prompt included.
    ``note`` is the longest repeat penalised at the last call: (its length, the token it
    would extend), or None; the Trace's stage keeps it and the why-line names the span.
    """

    name = "dry"
    knobs = (
        Knob("dry_multiplier", float, 0.0, 10.0, 0.05, 0.5, 0.0,
             "DRY: lower a token that would extend a repeat by multiplier·base^(length − "
             "allowed) (0 = off)", group="penalty", short=("dry-mult",), switchable=True),
        Knob("dry_base", float, 1.0, 10.0, 0.05, 0.25, 1.75,
             "DRY: how much harder each extra repeated token is punished", min_open=True,
             group="penalty", needs="dry_multiplier"),
        Knob("dry_allowed_length", int, 1, 50, 1, 2, 2,
             "DRY: repeats shorter than this are not punished", group="penalty",
             short=("dry-allowed", "dry-len"), needs="dry_multiplier"),
    )

    @classmethod
    def build(cls, values: dict[str, Any], context: BuildContext) -> Dry | None:
        multiplier = values["dry_multiplier"]
        if multiplier == 0:
            return None
        return cls(multiplier, values["dry_base"], values["dry_allowed_length"],
                   context.breakers)

    def __init__(self, multiplier: float, base: float = 1.75, allowed_length: int = 2,
                 breakers: frozenset[int] | set[int] = frozenset()):
        self.multiplier = float(check_number("dry_multiplier", multiplier, 0, math.inf,
                                             hi_open=True))
        self.base = float(check_number("dry_base", base, 1, math.inf, lo_open=True,
                                       hi_open=True))
        self.allowed_length = int(check_number("dry_allowed_length", allowed_length, 1,
                                               math.inf, integer=True))
        self.breakers = frozenset(int(b) for b in breakers)
        self.label = (f"DRY ×{_fmt(self.multiplier)}, base {_fmt(self.base)}, "
                      f"allowed {self.allowed_length}")
        self.note: tuple[int, int] | None = None
        self._ids = _ContextArray()

    def repeat_lengths(self, context_ids: Sequence[int]) -> dict[int, int]:
        """{token w: the length of the longest repeat w would extend} over ``context_ids``."""
        ids = self._ids(context_ids)
        n = ids.size
        if n < 2:
            return {}
        last = int(ids[n - 1])
        breakers = self.breakers
        if last in breakers:
            return {}
        lengths: dict[int, int] = {}
        for i in np.flatnonzero(ids[: n - 1] == last).tolist():
            following = int(ids[i + 1])
            if following in breakers:
                continue
            length = 1
            while length < DRY_MAX_MATCH:
                j = i - length
                if j < 0:
                    break
                previous = int(ids[n - 1 - length])
                if int(ids[j]) != previous or previous in breakers:
                    break
                length += 1
            if length > lengths.get(following, 0):
                lengths[following] = length
        return lengths

    def penalty(self, length: int) -> float:
        """What a repeat of ``length`` tokens costs the token that would extend it."""
        if length < self.allowed_length:
            return 0.0
        return self.multiplier * self.base ** (length - self.allowed_length)

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        z = _logits_array(logits).copy()
        self.note = None
        lengths = self.repeat_lengths(context_ids)
        for token, length in lengths.items():
            if length >= self.allowed_length:
                z[token] -= self.penalty(length)
                if self.note is None or length > self.note[0]:
                    self.note = (length, token)
        return z


class NoRepeatNGram(Processor):
    """Forbid any n-gram from occurring twice (HF ``NoRepeatNGramLogitsProcessor``).

    If the last n-1 tokens of the context already occurred followed by w, then z_w = -inf.
    n = 1 forbids every token already in the context. The prompt counts as context.
    """

    name = "no_repeat_ngram"
    removes_only = True  # kept tokens keep their logits
    knobs = (Knob("no_repeat_ngram", int, 0, 20, 1, 1, 0,
                  "forbid any n-gram of this size from appearing twice (0 = off)",
                  group="penalty", short=("no-repeat-n", "no-rep-n"), switchable=True),)

    def __init__(self, n: int):
        self.n = int(check_number("no_repeat_ngram", n, 1, math.inf, integer=True))
        self.label = f"no repeated {self.n}-gram"
        self._seen = _SeenTokens()
        # the last TokenSeq read, and (once a next step came) {(n-1)-gram: next tokens} over it
        self._memo: tuple[TokenSeq, dict[tuple[int, ...], set[int]] | None] | None = None

    def banned(self, context_ids: Sequence[int]) -> np.ndarray:
        """Token ids that would complete an n-gram already in ``context_ids``, ascending."""
        n = self.n
        if len(context_ids) < n or len(context_ids) == 0:  # no n-gram in the context yet
            return np.zeros(0, dtype=np.int64)
        if n == 1:
            return self._seen(context_ids)
        if isinstance(context_ids, TokenSeq):
            index = self._index(context_ids)
            if index is not None:
                following = index.get(tuple(context_ids.tail(n - 1)), ())
                return np.array(sorted(following), dtype=np.int64)
        ctx = np.asarray(context_ids, dtype=np.int64)
        windows = np.lib.stride_tricks.sliding_window_view(ctx, n)  # (len - n + 1, n)
        match = np.all(windows[:, : n - 1] == ctx[len(ctx) - (n - 1) :], axis=1)
        return np.unique(windows[match, n - 1])

    def _index(self, context: TokenSeq) -> dict[tuple[int, ...], set[int]] | None:
        """The n-gram index of ``context`` if it is the last context read or extends it by one
        token (built on the first such step); None otherwise (read the context afresh)."""
        memo, n = self._memo, self.n
        index = None
        if memo is not None and memo[0] is context:
            index = memo[1]
        elif memo is not None and context.parent is memo[0]:
            index = memo[1]
            if index is None:  # a second step in a row: worth an index
                index = {}
                ids = context.tolist()
                for i in range(len(ids) - n + 1):
                    index.setdefault(tuple(ids[i:i + n - 1]), set()).add(ids[i + n - 1])
            else:
                gram = context.tail(n)
                index.setdefault(tuple(gram[:-1]), set()).add(gram[-1])
        self._memo = (context, index)
        return index

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        z = _logits_array(logits)
        banned = self.banned(context_ids)
        if banned.size == 0:
            return z.copy()
        return _remove_ids(z, banned)


class _SeenTokens:
    """The distinct ids of a context, ascending, remembered for the last TokenSeq read (see the
    module docstring)."""

    def __init__(self) -> None:
        self._memo: tuple[TokenSeq, np.ndarray, set[int]] | None = None

    def __call__(self, context_ids: Sequence[int]) -> np.ndarray:
        if not isinstance(context_ids, TokenSeq):
            return np.unique(np.asarray(context_ids, dtype=np.int64))
        memo = self._memo
        if memo is not None and memo[0] is context_ids:
            return memo[1]
        if memo is not None and context_ids.parent is memo[0]:
            _, seen, tokens = memo
            token = context_ids.last
            if token not in tokens:
                tokens.add(token)
                seen = np.array(sorted(tokens), dtype=np.int64)
        else:
            seen = np.unique(np.asarray(context_ids, dtype=np.int64))
            tokens = set(seen.tolist())
        self._memo = (context_ids, seen, tokens)
        return seen


class Temperature(Processor):
    """z / T. T < 1 sharpens the distribution, T > 1 flattens it; the ranking never changes.

    p_i(T) = exp(z_i / T) / Σ_j exp(z_j / T) = p_i^(1/T) / Σ_j p_j^(1/T) when z = log p.
    T = 0 (greedy) is not a processor: strategies and ``warp`` treat it as the arg-max.
    Computed as (z - max z) / T, the same distribution, so that a tiny T cannot overflow.
    """

    name = "temperature"
    warper = True
    knobs = (Knob("temperature", float, 0.0, math.inf, 0.05, 0.5, 1.0,
                  "divide the logits by T: below 1 sharpens, above 1 flattens; 0 means greedy",
                  max_open=True, strategies=SAMPLE, short=("temp",), playground=(0.1, 0.0, 5.0)),)

    def __init__(self, temperature: float):
        self.temperature = float(check_number("temperature", temperature, 0, math.inf,
                                              lo_open=True, hi_open=True))
        self.label = f"T = {_fmt(self.temperature)}"

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        z = _logits_array(logits)
        m = np.max(z)
        return (z - m) / self.temperature if np.isfinite(m) else z.copy()


class TopNSigma(Processor):
    """Top-nσ (Tang et al. 2024): keep the tokens whose logit is at least max - n·σ, σ the
    standard deviation of the finite logits (over the whole vocabulary, dividing by their
    count, as llama.cpp does). Tokens tied with the cut stay.

    Dividing the logits by T divides both max - z_i and σ by T, so the kept set is the same
    at every temperature: the cut is made on the shape of the logits, not on the probability
    mass (temperature still changes the probabilities of the tokens kept). n = 0 keeps only
    the top token(s); a large n keeps everything.
    """

    name = "top_n_sigma"
    warper = True
    removes_only = True  # kept tokens keep their logits
    knobs = (Knob("top_n_sigma", float, 0.0, 100.0, 0.1, 0.5, 0.0,
                  "keep tokens whose logit is within n standard deviations of the top one; "
                  "the same at any temperature (0 = off)",
                  strategies=SAMPLE, title="top-nσ", switchable=True,
                  playground=(0.1, 0.0, 5.0)),)

    def __init__(self, n: float):
        self.n = float(check_number("top_n_sigma", n, 0, math.inf, hi_open=True))
        self.label = f"top-nσ = {_fmt(self.n)}"

    def cutoff(self, logits: np.ndarray) -> float:
        """max - n·σ over the finite logits."""
        z = _logits_array(logits)
        finite = z[np.isfinite(z)]
        if finite.size == 0:
            return NEG_INF
        return float(np.max(finite) - self.n * np.std(finite))

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        z = _logits_array(logits)
        finite = z[np.isfinite(z)]
        if finite.size == 0:
            return z.copy()
        top = np.max(finite)
        spread = self.n * float(np.std(finite))
        # measured from the top, with a relative slack of 1e-12 so that rounding (z / T)
        # cannot move a token across the cut
        return _remove(z, (z - top) < -spread * (1.0 + 1e-12))


class TopK(Processor):
    """Keep the k tokens with the largest logits (Fan et al. 2018).

    Removes z_i < z_(k), the k-th largest value, so tokens tied with the k-th are all kept
    (HF ``TopKLogitsWarper``). k larger than the vocabulary keeps everything.
    """

    name = "top_k"
    warper = True
    removes_only = True  # kept tokens keep their logits
    knobs = (Knob("top_k", int, 0, 100_000, 1, 10, 0,
                  "sample only among the k most probable tokens (0 = off)", strategies=SAMPLE,
                  switchable=True, playground=(1, 0, 50)),)

    def __init__(self, k: int):
        self.k = int(check_number("top_k", k, 1, math.inf, integer=True))
        self.label = f"top-k = {self.k}"

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        z = _logits_array(logits)
        if self.k >= z.size:
            return z.copy()
        kth = np.partition(z, z.size - self.k)[z.size - self.k]
        return _remove(z, z < kth)


class TopP(Processor):
    """Nucleus sampling (Holtzman et al. 2020): keep the smallest set of most probable tokens
    whose total probability reaches p.

    As HF ``TopPLogitsWarper``: sort ascending, c_i = cumulative probability, remove tokens with
    c_i <= 1 - p; so the token at which the descending cumulative probability crosses p is kept.
    Ties are ranked by id (a lower id counts as more probable, as in greedy), and a relative
    slack of 1e-12 absorbs rounding so that p = 0.8 on (0.5, 0.3, 0.2) keeps exactly two tokens.
    """

    name = "top_p"
    warper = True
    removes_only = True  # kept tokens keep their logits
    knobs = (Knob("top_p", float, 0.0, 1.0, 0.01, 0.1, 1.0,
                  "sample from the smallest set of tokens whose probability reaches p (1 = off)",
                  min_open=True, strategies=SAMPLE, switchable=True,
                  playground=(0.05, 0.05, 1.0)),)
    uses_probs = True

    def __init__(self, p: float):
        self.p = float(check_number("top_p", p, 0, 1, lo_open=True))
        self.label = f"top-p = {_fmt(self.p)}"

    def kept_count(self, logits: np.ndarray) -> int:
        """How many tokens survive (the rank at which the cumulative probability crosses p)."""
        return int(np.count_nonzero(np.isfinite(self(None, logits))))

    def __call__(
        self, context_ids: Sequence[int] | None, logits: np.ndarray, probs: np.ndarray | None = None
    ) -> np.ndarray:
        # token j (in descending order) survives iff the mass before it, Σ_{i<j} p_i, is < p;
        # a large vocabulary sorts only its most probable tokens
        z, probs = _logits_and_probs(logits, probs)
        limit = self.p - 1e-12
        out = np.full(z.shape, NEG_INF)
        if z.size <= _SORT_ALL:
            top = np.argsort(-z, kind="stable")
            cumulative = np.cumsum(probs[top])
        else:  # a large vocabulary sorts only the bin where the mass crosses p
            ahead, top, before = _crossing(-z, probs, limit)  # -inf logits: +inf keys
            out[ahead] = z[ahead]
            if top.size == 0:
                return out
            cumulative = before + np.cumsum(probs[top])  # its first token has < limit before
        # the mass before token j is cumulative[j-1] (< limit for the first, which stays)
        keep = top[: 1 + int(np.searchsorted(cumulative[:-1], limit))]
        out[keep] = z[keep]
        return out


def _top_p_by_full_sort(p: float, logits: np.ndarray) -> np.ndarray:
    """Reference for ``TopP``, literally HF's steps (used by the tests)."""
    z = _logits_array(logits)
    order = _descending_order(z)[::-1]  # ascending, ties: higher id first
    cumulative = np.cumsum(softmax(z)[order])
    sorted_remove = cumulative <= (1.0 - p) + 1e-12
    sorted_remove[-1] = False  # min_tokens_to_keep = 1: the most probable token stays
    return _remove_sorted(z, order, sorted_remove)


def _typical_p_by_full_sort(p: float, logits: np.ndarray) -> np.ndarray:
    """Reference for ``TypicalP`` on any vocabulary: one full sort (used by the tests)."""
    z = _logits_array(logits)
    probs = softmax(z)
    with np.errstate(divide="ignore"):
        distance = np.abs(-np.log(probs) - entropy(probs))
    order = np.argsort(distance, kind="stable")
    cumulative = np.cumsum(probs[order])
    last = min(int(np.sum(cumulative < p)), z.size - 1)
    sorted_remove = distance[order] > distance[order][last]
    sorted_remove[0] = False
    return _remove_sorted(z, order, sorted_remove)


class MinP(Processor):
    """Keep tokens with p_i >= min_p · max_j p_j (Nguyen et al. 2024; HF ``MinPLogitsWarper``).

    The test is strict: a token exactly at min_p · p_max stays (a relative slack of 1e-12
    absorbs rounding). min_p = 1 keeps only the most probable token(s).
    """

    name = "min_p"
    warper = True
    removes_only = True  # kept tokens keep their logits
    knobs = (Knob("min_p", float, 0.0, 1.0, 0.01, 0.1, 0.0,
                  "drop tokens less likely than min_p times the most likely one (0 = off)",
                  strategies=SAMPLE, switchable=True, playground=(0.05, 0.0, 1.0)),)

    def __init__(self, p: float):
        self.p = float(check_number("min_p", p, 0, 1))
        self.label = f"min-p = {_fmt(self.p)}"

    def __call__(self, context_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        z = _logits_array(logits)
        if self.p == 0:
            return z.copy()
        ratio = np.exp(z - np.max(z))  # p_i / p_max
        return _remove(z, ratio < self.p * (1.0 - 1e-12))


class TypicalP(Processor):
    """Locally typical sampling (Meister et al. 2023; HF ``TypicalLogitsWarper``).

    H = -Σ p_i ln p_i; sort tokens by |-ln p_i - H| (how far their surprisal is from the
    entropy), ascending; keep the shortest prefix whose cumulative probability reaches p (tokens
    tied with the last kept distance are kept too).
    """

    name = "typical_p"
    warper = True
    removes_only = True  # kept tokens keep their logits
    knobs = (Knob("typical_p", float, 0.0, 1.0, 0.01, 0.1, 1.0,
                  "keep tokens whose surprisal is closest to the entropy, up to mass p (1 = off)",
                  min_open=True, strategies=SAMPLE, short=("typical",), switchable=True,
                  playground=(0.05, 0.05, 1.0)),)
    uses_probs = True

    def __init__(self, p: float):
        self.p = float(check_number("typical_p", p, 0, 1, lo_open=True))
        self.label = f"typical-p = {_fmt(self.p)}"

    def __call__(
        self, context_ids: Sequence[int], logits: np.ndarray, probs: np.ndarray | None = None
    ) -> np.ndarray:
        z, probs = _logits_and_probs(logits, probs)
        with np.errstate(divide="ignore"):
            log_probs = np.log(probs)
        h = entropy(probs)
        distance = np.abs(-log_probs - h)  # inf for removed tokens: sorted last
        if z.size > _SORT_ALL:  # a large vocabulary sorts only the bin where the mass crosses p
            _, ranked, before = _crossing(distance, probs, self.p)
            if ranked.size == 0:  # the mass never reaches p (rounding): everything stays
                return z.copy()
            cumulative = before + np.cumsum(probs[ranked])
            last = ranked[min(int(np.sum(cumulative < self.p)), ranked.size - 1)]
            return _remove(z, distance > distance[last])
        order = np.argsort(distance, kind="stable")
        sorted_distance = distance[order]
        cumulative = np.cumsum(probs[order])
        last = min(int(np.sum(cumulative < self.p)), z.size - 1)
        sorted_remove = sorted_distance > sorted_distance[last]
        sorted_remove[0] = False
        return _remove_sorted(z, order, sorted_remove)


class Epsilon(Processor):
    """Drop tokens with p_i < epsilon (Hewitt et al. 2022; HF ``EpsilonLogitsWarper``); the
    most probable token always stays. A token exactly at epsilon stays (1e-12 relative slack)."""

    name = "epsilon"
    warper = True
    removes_only = True  # kept tokens keep their logits
    knobs = (Knob("epsilon", float, 0.0, 1.0, 0.0001, 0.001, 0.0,
                  "drop tokens whose probability is below epsilon (0 = off)",
                  max_open=True, strategies=SAMPLE, switchable=True),)
    uses_probs = True

    def __init__(self, epsilon: float):
        self.epsilon = float(check_number("epsilon", epsilon, 0, 1, hi_open=True))
        self.label = f"epsilon = {_fmt(self.epsilon)}"

    def __call__(
        self, context_ids: Sequence[int], logits: np.ndarray, probs: np.ndarray | None = None
    ) -> np.ndarray:
        z, probs = _logits_and_probs(logits, probs)
        remove = probs < self.epsilon * (1.0 - 1e-12)
        remove &= z < np.max(z)
        return _remove(z, remove)


class Eta(Processor):
    """Eta sampling (Hewitt et al. 2022; HF ``EtaLogitsWarper``): drop tokens with p_i < η,
    η = min(ε, √ε · exp(-H(p))), H the entropy in nats. A flat distribution (high entropy)
    gets a lower cut than a peaked one. The most probable token (and its ties) always stays
    (``min_tokens_to_keep = 1``); the test is strict, as in HF: a token exactly at η stays."""

    name = "eta"
    warper = True
    removes_only = True  # kept tokens keep their logits
    knobs = (Knob("eta", float, 0.0, 1.0, 0.0001, 0.001, 0.0,
                  "eta sampling: drop tokens below min(ε, √ε·e^-H), ε this value (0 = off)",
                  max_open=True, strategies=SAMPLE, switchable=True),)
    uses_probs = True

    def __init__(self, epsilon: float):
        self.epsilon = float(check_number("eta", epsilon, 0, 1, lo_open=True, hi_open=True))
        self.label = f"eta = {_fmt(self.epsilon)}"

    def cutoff(self, probs: np.ndarray) -> float:
        """η for the distribution ``probs``."""
        return min(self.epsilon, math.sqrt(self.epsilon) * math.exp(-entropy(probs)))

    def __call__(
        self, context_ids: Sequence[int], logits: np.ndarray, probs: np.ndarray | None = None
    ) -> np.ndarray:
        z, probs = _logits_and_probs(logits, probs)
        remove = probs < self.cutoff(probs)
        remove &= z < np.max(z)
        return _remove(z, remove)


class XTC(Processor):
    """XTC, "exclude top choices" (text-generation-webui and llama.cpp): at a step where it
    fires, every token whose probability is >= threshold is removed except the least
    probable of them, so the text avoids its most predictable continuations while staying
    among the plausible ones. It fires with probability ``xtc_probability``: when the step's
    draw u < xtc_probability. It needs two tokens at or above the threshold to do anything
    (so a threshold above 0.5 never removes anything), and never removes every token.

    The draw is number i of XTC's own seeded stream (``draws.step_draw(seed, i,
    stream=XTC_STREAM)``, i the number of tokens after the prompt), independent of the
    sampling draw: undo, redo and replay repeat it. Ties in probability are ranked by id (a
    lower id counts as more probable, as greedy does). ``fired`` and ``label`` describe the
    last call (the Trace's stage label says whether it fired and with which draw).
    """

    name = "xtc"
    warper = True
    removes_only = True  # kept tokens keep their logits
    uses_probs = True
    knobs = (
        Knob("xtc_probability", float, 0.0, 1.0, 0.05, 0.25, 0.0,
             "XTC: how often a step removes the top choices, all but the least likely "
             "one above the threshold (0 = off)", strategies=SAMPLE, short=("xtc-prob",),
             switchable=True, playground=(0.05, 0.0, 1.0)),
        Knob("xtc_threshold", float, 0.0, 1.0, 0.01, 0.05, 0.1,
             "XTC: tokens at least this probable count as top choices", min_open=True,
             strategies=SAMPLE, short=("xtc-thresh", "xtc-th"), needs="xtc_probability"),
    )

    @classmethod
    def build(cls, values: dict[str, Any], context: BuildContext) -> XTC | None:
        probability = values["xtc_probability"]
        if probability == 0:
            return None
        return cls(probability, values["xtc_threshold"], seed=context.seed,
                   prompt_length=context.prompt_length)

    def __init__(self, probability: float, threshold: float = 0.1, *, seed: int = 0,
                 prompt_length: int = 0):
        self.probability = float(check_number("xtc_probability", probability, 0, 1))
        self.threshold = float(check_number("xtc_threshold", threshold, 0, 1, lo_open=True))
        self.seed = int(check_number("seed", seed, 0, 2**63 - 1, integer=True))
        self.prompt_length = int(
            check_number("prompt_length", prompt_length, 0, math.inf, integer=True)
        )
        self._base_label = f"XTC p = {_fmt(self.probability)}, ≥ {_fmt(self.threshold)}"
        self.label = self._base_label
        self.fired: bool | None = None

    def draw(self, context_ids: Sequence[int] | None) -> float:
        """The step's draw u: XTC fires when u < probability (no context: step 0)."""
        step = max((0 if context_ids is None else len(context_ids)) - self.prompt_length, 0)
        return step_draw(self.seed, step, stream=XTC_STREAM)

    def __call__(
        self, context_ids: Sequence[int] | None, logits: np.ndarray,
        probs: np.ndarray | None = None,
    ) -> np.ndarray:
        z, probs = _logits_and_probs(logits, probs)
        u = self.draw(context_ids)
        self.fired = u < self.probability
        if not self.fired:
            self.label = f"{self._base_label} (did not fire, u = {u:.2f})"
            return z.copy()
        self.label = f"{self._base_label} (fired, u = {u:.2f})"
        top = np.flatnonzero(probs >= self.threshold * (1.0 - 1e-12))
        if top.size < 2:
            return z.copy()
        ranked = top[np.lexsort((top, -probs[top]))]  # most probable first, ties by id
        return _remove_ids(z, ranked[:-1])


class Mirostat(Processor):
    """Mirostat v2 (Basu et al. 2021): a truncation that steers the text's surprise.

    The surprise of a token is s_i = -log2 p_i, in bits. A running bound μ (it starts at 2τ)
    removes every token with s_i > μ (the most probable token always stays); then a token is
    drawn from what is left, renormalised, and μ learns from the surprise s of the chosen
    token: μ <- μ - η·(s - τ). Too surprising a choice lowers the bound, a dull one raises it,
    so the average surprise of the text approaches the target τ.

    Semantics as llama.cpp's ``llama_sampler_mirostat_v2_apply`` (src/llama-sampling.cpp,
    checked): p is the softmax of the logits it is given (so renormalised over the tokens the
    processors before it left), the test is -log2 p > μ on those probabilities, before
    renormalising; the surprise used for the update is that of the chosen token in the
    distribution renormalised after the cut (the distribution the draw was made from). It is
    the last processor, so that distribution is the step's final one.

    μ is the state of a generation: the caller sets ``mu`` before each call (``decode_step``
    takes it from the step before, kept in the Trace) and ``update`` gives the next μ; the
    processor itself keeps nothing between steps, so undo, redo and replay restore μ with the
    steps. ``label`` says the μ of the last call (before any call: τ only).
    """

    name = "mirostat"
    carries_state = True  # μ: set by the strategies before each step, updated after it
    warper = True
    removes_only = True  # kept tokens keep their logits
    uses_probs = True
    knobs = (
        Knob("mirostat_tau", float, 0.0, 30.0, 0.1, 0.5, 0.0,
             "mirostat v2: target surprise τ in bits per token; drops tokens more surprising "
             "than a bound μ that adapts from 2τ (0 = off; llama.cpp's --mirostat 2 uses 5)",
             strategies=SAMPLE, title="mirostat-τ", short=("miro-τ",), switchable=True,
             playground=(0.25, 0.0, 10.0)),
        Knob("mirostat_eta", float, 0.0, 1.0, 0.01, 0.1, 0.1,
             "mirostat v2: learning rate η, how fast μ follows the surprise of each choice "
             "(μ ← μ − η·(surprise − τ))", strategies=SAMPLE, title="mirostat-η",
             short=("miro-η",), needs="mirostat_tau"),
    )

    @classmethod
    def build(cls, values: dict[str, Any], context: BuildContext) -> Mirostat | None:
        tau = values["mirostat_tau"]
        return None if tau == 0 else cls(tau, values["mirostat_eta"])

    def __init__(self, tau: float, eta: float = 0.1):
        self.tau = float(check_number("mirostat_tau", tau, 0, math.inf, lo_open=True,
                                      hi_open=True))
        self.eta = float(check_number("mirostat_eta", eta, 0, math.inf, hi_open=True))
        self.mu = self.initial_mu
        # before a call the label names the processor only (the chain line); a call adds the
        # μ it cut with (the step's stage)
        self.label = f"mirostat τ = {_fmt(self.tau)}"

    @property
    def initial_mu(self) -> float:
        """μ at the first step: 2τ."""
        return 2.0 * self.tau

    def _label(self) -> str:
        return f"mirostat τ = {_fmt(self.tau)}, μ = {self.mu:.2f} bits"

    def update(self, chosen_prob: float) -> tuple[float | None, float]:
        """(surprise of the chosen token in bits, the next μ) after a choice whose probability
        in the truncated, renormalised distribution is ``chosen_prob``. A token of
        probability 0 there (a forced token the cut removed) has no finite surprise: μ stays."""
        if not chosen_prob > 0:
            return None, self.mu
        surprise = -math.log2(min(chosen_prob, 1.0)) + 0.0  # never -0.0
        return surprise, self.mu - self.eta * (surprise - self.tau)

    def __call__(
        self, context_ids: Sequence[int] | None, logits: np.ndarray,
        probs: np.ndarray | None = None,
    ) -> np.ndarray:
        z, probs = _logits_and_probs(logits, probs)
        self.label = self._label()
        with np.errstate(divide="ignore"):
            surprise = -np.log2(probs)  # inf for tokens already removed
        return _remove(z, surprise > self.mu)  # keeps the arg-max if all would go


# ------------------------------------------------------------------------------ building them
#: Every processor, in the order they are applied.
PROCESSORS: tuple[type[Processor], ...] = (
    LogitBias,
    MinLength,
    RepetitionPenalty,
    FrequencyPenalty,
    PresencePenalty,
    Dry,
    NoRepeatNGram,
    Temperature,
    TopNSigma,
    TopK,
    TopP,
    MinP,
    TypicalP,
    Epsilon,
    Eta,
    XTC,
    Mirostat,
)
#: Processor names in the order they are applied.
PROCESSOR_ORDER: tuple[str, ...] = tuple(cls.name for cls in PROCESSORS)
#: Processors that shape the sampling distribution (ignored by greedy and beam search).
WARPER_NAMES: frozenset[str] = frozenset(cls.name for cls in PROCESSORS if cls.warper)
#: Warpers that only cut tokens away (temperature runs before all of them).
TRUNCATOR_NAMES: tuple[str, ...] = tuple(
    cls.name for cls in PROCESSORS if cls.warper and cls.removes_only
)
#: Every processor knob by name, in processor order.
PROCESSOR_KNOBS: dict[str, Knob] = {k.name: k for cls in PROCESSORS for k in cls.knobs}
#: The knobs of the warpers (what ``warp`` takes).
WARPER_KNOBS: dict[str, Knob] = {
    k.name: k for cls in PROCESSORS if cls.warper for k in cls.knobs
}


def check_knobs(knobs: dict[str, Any], allowed: dict[str, Knob]) -> dict[str, Any]:
    """Every knob of ``allowed``: its value in ``knobs`` checked (ValueError naming the knob
    and its range), or its off value; a name not in ``allowed`` raises ValueError."""
    unknown = [name for name in knobs if name not in allowed]
    if unknown:
        raise ValueError(f"unknown processor knob {unknown[0]!r}; knobs are: "
                         f"{', '.join(allowed)}")
    return {name: knob.check(knobs[name]) if name in knobs else knob.off
            for name, knob in allowed.items()}


def build_processors(
    values: dict[str, Any], *, eos_id: int = 2, prompt_length: int = 0, sampling: bool = True,
    breakers: frozenset[int] = frozenset(), seed: int = 0,
    token_id: Callable[[str], int] | None = None,
) -> list[LogitsProcessor]:
    """The active processors for knob ``values`` (already checked, every processor knob), in
    ``PROCESSORS`` order. Without sampling (greedy, beam, or temperature 0) the warpers are
    left out. ``breakers``: DRY's sequence breakers (``dry_breaker_ids(tokenizer)``);
    ``seed``: the generation's seed (XTC draws from it); ``token_id``: a token as typed -> its
    id (``model_token_id``), for the logit bias."""
    context = BuildContext(eos_id, prompt_length, frozenset(breakers), int(seed), token_id)
    sampling = sampling and values["temperature"] != 0
    processors: list[LogitsProcessor] = []
    for cls in PROCESSORS:
        if cls.warper and not sampling:
            continue
        processor = cls.build(values, context)
        if processor is not None:
            processors.append(processor)
    return processors


def make_processors(
    *, eos_id: int = 2, prompt_length: int = 0, sampling: bool = True,
    breakers: frozenset[int] = frozenset(), seed: int = 0,
    token_id: Callable[[str], int] | None = None, **knobs: Any
) -> list[LogitsProcessor]:
    """The active processors in ``PROCESSOR_ORDER``; a knob at its "off" value makes none.

    ``knobs``: processor knobs by name (``PROCESSOR_KNOBS``: min_tokens, repetition_penalty,
    no_repeat_ngram, temperature, top_k, top_p, min_p, typical_p, epsilon, eta, ...), each checked
    against its range; one left out is off. Temperature 0 means greedy. With
    ``sampling=False`` (greedy, beam search) the warpers are left out.
    """
    values = check_knobs(knobs, PROCESSOR_KNOBS)
    return build_processors(values, eos_id=eos_id, prompt_length=prompt_length,
                            sampling=sampling, breakers=breakers, seed=seed, token_id=token_id)


def apply_processors(
    processors: Sequence[LogitsProcessor], context_ids: Sequence[int], logits: np.ndarray
) -> np.ndarray:
    """Run ``processors`` in order; returns new logits."""
    z = _logits_array(logits)
    for processor in processors:
        z = processor(context_ids, z)
    return z


def warp(logits: np.ndarray, **knobs: Any) -> np.ndarray:
    """The final sampling distribution for one vector of logits (or log-probs).

    p = softmax(eta ∘ epsilon ∘ typical ∘ min-p ∘ top-p ∘ top-k ∘ top-nσ (z / T)), a float64 vector that sums
    to 1 with exact zeros for removed tokens. ``knobs``: the warpers' knobs (``WARPER_KNOBS``:
    temperature, top_k, top_p, min_p, typical_p, epsilon, eta, ...), off when left out.
    ``temperature = 0`` means greedy: all the mass on the arg-max of ``logits`` (the first one
    on ties); the other knobs cannot change that choice and are ignored. ``logits`` may contain
    ``-inf`` (impossible tokens) but not NaN or +inf.
    """
    z = _logits_array(logits)
    if np.isnan(z).any() or np.isposinf(z).any():
        raise ValueError("logits must not contain NaN or +inf")
    if not np.isfinite(z).any():
        raise ValueError("logits: no token has a finite logit, so there is no distribution")
    values = {**{k.name: k.off for k in PROCESSOR_KNOBS.values()},
              **check_knobs(knobs, WARPER_KNOBS)}
    if values["temperature"] == 0:
        probs = np.zeros_like(z)
        probs[int(np.argmax(z))] = 1.0
        return probs
    return softmax(apply_processors(build_processors(values), (), z))
