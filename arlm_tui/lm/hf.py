"""Optional backend: a causal language model from a local Hugging Face directory (``hf:PATH``).

Any decoder-only model that ``transformers`` can load with ``AutoModelForCausalLM`` (Llama,
Qwen, SmolLM, ...) becomes an arlm ``LanguageModel``, so every decoding strategy, game and
view can drive it. The model reads ``<s>`` (the tokenizer's start token; GPT-2 has none and starts
from its end-of-text token, as it was trained) and then the context:

    next_logprobs(w_1 … w_t) = log softmax(z),   z = net(<s> w_1 … w_t)[last]

computed in float64 from the net's logits. A GPT-2 folder does not come here: its
architecture is arlm's own transformer, which loads it memory-mapped and runs its compiled
step (``lm.neural.gpt2``; ``registry.load_model`` decides), but it shares ``HFTokenizer``. ``start``/``extend``/``select`` carry the net's own
key/value cache (``past_key_values``), so a generation step reads one token per sequence.

Ids are the Hugging Face tokenizer's own (not arlm's 0, 1, 2); ``bos_id``/``eos_id``/``unk_id``
say which they are. Two kinds of id are never predicted (log-probability −∞, the rest
renormalised): a start token distinct from the end token (arlm's rule: ``<s>`` only starts a
text) and the padding rows of an embedding larger than the tokenizer (they are no token at all).

Safety and privacy: weights are read from ``*.safetensors`` only (never pickle), from local files
only (nothing is downloaded), and code shipped with a model is never run (``trust_remote_code``
stays False). ``transformers`` is an optional extra: ``pip install transformers``. Importing this
module imports neither torch nor transformers; ``load_hf`` does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from arlm_tui.errors import ArlmError, ModelLoadError
from arlm_tui.lm.base import LanguageModel

__all__ = ["HFModel", "HFState", "HFTokenizer", "load_hf"]

INSTALL_HINT = "hf: models need the optional Hugging Face backend: pip install transformers"


def _first_line(exc: BaseException, limit: int = 200) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------- tokenizer
class HFTokenizer:
    """A Hugging Face tokenizer behind arlm's tokenizer interface.

    ``vocab`` has one string per row of the net's output (index = id); rows the tokenizer does
    not know (an embedding padded to a round size) read ``<unused:ID>``. ``encode`` adds no
    special tokens; ``decode`` drops the start and end tokens and keeps everything else.
    """

    kind = "hf"
    lowercase = False

    def __init__(self, hf_tokenizer: Any, vocab_size: int, *, bos_id: int, eos_id: int,
                 unk_id: int):
        self._hf = hf_tokenizer
        self.known = len(hf_tokenizer)  # ids below this are the tokenizer's own tokens
        if self.known > vocab_size:
            raise ValueError(
                f"the tokenizer has {self.known} tokens, but the net predicts only {vocab_size}"
            )
        pieces = hf_tokenizer.convert_ids_to_tokens(list(range(self.known)))
        self.vocab: list[str] = [
            str(p) if p is not None else f"<unused:{i}>" for i, p in enumerate(pieces)
        ] + [f"<unused:{i}>" for i in range(self.known, vocab_size)]
        self.token_to_id: dict[str, int] = {
            token: i for token, i in hf_tokenizer.get_vocab().items() if 0 <= i < self.known
        }
        self.bos_id, self.eos_id, self.unk_id = int(bos_id), int(eos_id), int(unk_id)
        self._special = set(getattr(hf_tokenizer, "all_special_ids", ())) | {
            self.bos_id, self.eos_id, self.unk_id
        }

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"HFTokenizer({type(self._hf).__name__}, vocab_size={len(self.vocab)})"

    def _check_id(self, token_id: int) -> int:
        token_id = int(token_id)
        if not 0 <= token_id < len(self.vocab):
            raise ValueError(
                f"token_id: {token_id} is outside the vocabulary [0, {len(self.vocab)})"
            )
        return token_id

    def tokenize(self, text: str) -> list[str]:
        return [self.vocab[i] for i in self.encode(text)]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without the special tokens the tokenizer would add."""
        return [int(i) for i in self._hf.encode(text, add_special_tokens=False)]

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``; start/end tokens and unused rows are dropped."""
        kept = []
        for token_id in ids:
            token_id = self._check_id(token_id)
            if token_id in (self.bos_id, self.eos_id) or token_id >= self.known:
                continue
            kept.append(token_id)
        if not kept:
            return ""
        return self._hf.decode(kept, skip_special_tokens=False,
                               clean_up_tokenization_spaces=False)

    def join(self, ids: Iterable[int]) -> str:
        return self.decode(ids)

    def token_text(self, token_id: int) -> str:
        """How one token reads on its own (``"Ġthe"`` -> ``" the"``); special tokens by name;
        a piece of a multi-byte character shows its byte (``"\\xe2"``)."""
        token_id = self._check_id(token_id)
        token = self.vocab[token_id]
        if token_id in self._special or token_id >= self.known:
            return token
        text = self._hf.decode([token_id], skip_special_tokens=False,
                               clean_up_tokenization_spaces=False)
        if "\ufffd" in text and "\ufffd" not in token:
            from arlm_tui.text.tokenizers import from_byte_symbols

            return from_byte_symbols(token, errors="backslashreplace")
        return text


# ---------------------------------------------------------------------------------- state
@dataclass
class HFState:
    """B sequences read so far: the net's key/value cache and what it needs to go on.

    ``attention_mask`` (B, T) is 0 on the left padding that lines up contexts of different
    lengths; ``positions`` (B,) counts the real tokens read (``<s>`` included), which is the
    position of the next token; ``histories`` are the context ids (without ``<s>``), kept so a
    context that outgrows the model's window can be read again from its last tokens."""

    cache: Any
    attention_mask: Any
    positions: Any
    histories: list[list[int]]

    def __len__(self) -> int:
        return len(self.histories)


# ---------------------------------------------------------------------------------- model
class HFModel(LanguageModel):
    """A ``transformers`` causal LM and its tokenizer behind the ``LanguageModel`` protocol."""

    backend = "hf"

    def __init__(self, net: Any, tokenizer: HFTokenizer, *, name: str = "hf",
                 path: str | Path | None = None):
        import inspect

        import torch

        self.net = net.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.path = None if path is None else str(path)
        config = net.config.get_text_config() if hasattr(net.config, "get_text_config") else net.config
        self._config = config
        #: Longest sequence (``<s>`` included) the net can read, or None if unlimited.
        self.window: int | None = (
            getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        )
        parameters = inspect.signature(net.forward).parameters
        self._takes_positions = "position_ids" in parameters
        #: the cache's keyword and output field: ``cache`` since transformers 5.x renamed
        #: ``past_key_values`` (still accepted there, with a deprecation warning)
        self._cache_name = "cache" if "cache" in parameters else "past_key_values"
        #: the net can skip the output layer but at the last position (``logits_to_keep``)
        self._keeps_logits = "logits_to_keep" in parameters
        never = list(range(tokenizer.known, len(tokenizer.vocab)))
        if tokenizer.bos_id != tokenizer.eos_id:
            never.append(tokenizer.bos_id)
        self._never = torch.tensor(sorted(set(never)), dtype=torch.long)

    # ------------------------------------------------------------------ conversions
    def _ids(self, ids: Sequence[int], what: str) -> list[int]:
        ids = [int(i) for i in ids]
        V = len(self.tokenizer.vocab)
        if ids and (min(ids) < 0 or max(ids) >= V):
            bad = next(i for i in ids if not 0 <= i < V)
            raise ValueError(f"{what}: token ids must be in [0, {V}), got {bad}")
        return ids

    def _logprobs(self, logits: Any) -> np.ndarray:
        """log softmax in float64; ids in ``_never`` get −∞ and the rest is renormalised."""
        import torch

        logits = logits.double()
        if len(self._never):
            logits = logits.clone()
            logits[..., self._never] = -torch.inf
        return torch.log_softmax(logits, dim=-1).numpy()

    def _visible(self, context: list[int]) -> list[int]:
        """``<s>`` + the context, cut to its last tokens if it is longer than the window."""
        if self.window is not None and len(context) + 1 > self.window:
            context = context[len(context) + 1 - self.window :]
        return [self.bos_id] + context

    # ------------------------------------------------------------------ the protocol
    def next_logprobs(self, context_ids: Sequence[int]) -> np.ndarray:
        import torch

        row = self._visible(self._ids(context_ids, "context_ids"))
        with torch.inference_mode():
            out = self.net(input_ids=torch.tensor([row], dtype=torch.long), use_cache=False)
        return self._logprobs(out.logits[0, -1])

    def start(self, contexts: Sequence[Sequence[int]]) -> tuple[np.ndarray, HFState]:
        """Read B contexts at once; shorter ones are padded on the left and masked."""
        import torch

        histories = [self._ids(c, "contexts") for c in contexts]
        if not histories:
            raise ValueError("contexts: need at least one context")
        rows = [self._visible(h) for h in histories]
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.eos_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, row in enumerate(rows):
            input_ids[b, width - len(row) :] = torch.tensor(row, dtype=torch.long)
            mask[b, width - len(row) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # (B, T): 0 at <s>, counting real tokens
        extra = {"position_ids": positions} if self._takes_positions else {}
        with torch.inference_mode():
            out = self.net(input_ids=input_ids, attention_mask=mask, use_cache=True, **extra)
        state = HFState(getattr(out, self._cache_name), mask, mask.sum(-1), histories)
        return self._logprobs(out.logits[:, -1]), state

    def extend(self, state: HFState, token_ids: Sequence[int]) -> tuple[np.ndarray, HFState]:
        """Read one more token per sequence with the cached keys/values; ``state`` is kept as
        it was (the cache is copied before the net appends to it)."""
        import torch

        if len(token_ids) != len(state):
            raise ValueError(f"token_ids: {len(token_ids)} tokens for {len(state)} sequences")
        ids = self._ids(token_ids, "token_ids")
        histories = [h + [t] for h, t in zip(state.histories, ids)]
        if not histories:
            return np.zeros((0, len(self.vocab))), HFState(
                state.cache, state.attention_mask, state.positions, []
            )
        if self.window is not None and int(state.positions.max()) + 1 > self.window:
            return self.start(histories)  # the window is full: read the last tokens again
        mask = torch.cat([state.attention_mask, torch.ones((len(ids), 1), dtype=torch.long)], 1)
        extra = {"position_ids": state.positions[:, None]} if self._takes_positions else {}
        with torch.inference_mode():
            cache = _copy_cache(state.cache)
            out = self.net(
                input_ids=torch.tensor(ids, dtype=torch.long)[:, None],
                attention_mask=mask,
                use_cache=True,
                **{self._cache_name: cache},
                **extra,
            )
        new = HFState(getattr(out, self._cache_name), mask, state.positions + 1, histories)
        return self._logprobs(out.logits[:, -1]), new

    def select(self, state: HFState, indices: Sequence[int]) -> HFState:
        """Keep sequences ``indices`` (repeats allowed): the cache rows are reordered with the
        cache's own ``reorder_cache`` on a copy, so ``state`` is unchanged."""
        import torch

        index = torch.tensor([int(i) for i in indices], dtype=torch.long)
        if len(index) and (int(index.min()) < 0 or int(index.max()) >= len(state)):
            raise ValueError(f"indices: must be in [0, {len(state)}), got {list(indices)}")
        with torch.inference_mode():
            cache = _copy_cache(state.cache)
            cache.reorder_cache(index)
        return HFState(
            cache,
            state.attention_mask.index_select(0, index),
            state.positions.index_select(0, index),
            [list(state.histories[i]) for i in index.tolist()],
        )

    # ------------------------------------------------------------------ hidden states
    @property
    def has_hidden_states(self) -> bool:
        return True

    def hidden_states(self, context_ids: Sequence[int]) -> np.ndarray | None:
        """The net's last hidden states (``output_hidden_states=True``, ``hidden_states[-1]``)
        at ``<s>`` and at every token of the context the window holds: (positions, d)."""
        import torch

        row = self._visible(self._ids(context_ids, "context_ids"))
        with torch.inference_mode():
            out = self.net(input_ids=torch.tensor([row], dtype=torch.long), use_cache=False,
                           output_hidden_states=True)
        return out.hidden_states[-1][0].double().numpy()

    def candidate_hidden_states(
        self, context_ids: Sequence[int], candidate_ids: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``LanguageModel.candidate_hidden_states`` as Hugging Face's contrastive search reads
        it: one forward over ``<s>`` + the context (``use_cache=True``,
        ``output_hidden_states=True``), its cache repeated to k rows
        (``Cache.batch_repeat_interleave``), then the k candidates as one batch of one-token
        steps. When the text with a candidate would not fit the window (its first tokens cut,
        every position moved), or the cache cannot be repeated (``_repeatable``), it is the
        default: a pass over each text."""
        import torch

        context = self._ids(context_ids, "context_ids")
        candidates = self._ids(candidate_ids, "candidate_ids")
        if not candidates or (self.window is not None and len(context) + 2 > self.window):
            return super().candidate_hidden_states(context, candidates)
        row = [self.bos_id] + context
        k = len(candidates)
        skip = {"logits_to_keep": 1} if self._keeps_logits else {}  # the states are wanted
        with torch.inference_mode():
            out = self.net(input_ids=torch.tensor([row], dtype=torch.long), use_cache=True,
                           output_hidden_states=True, **skip)
            cache: Any = getattr(out, self._cache_name, None)
            if not _repeatable(cache):  # a legacy tuple cache, a layer kind that cannot
                return super().candidate_hidden_states(context, candidates)
            cache.batch_repeat_interleave(k)  # the k rows of one text: no copy kept
            extra = {self._cache_name: cache}
            if self._takes_positions:
                extra["position_ids"] = torch.full((k, 1), len(row), dtype=torch.long)
            step = self.net(
                input_ids=torch.tensor(candidates, dtype=torch.long)[:, None],
                attention_mask=torch.ones((k, len(row) + 1), dtype=torch.long),
                use_cache=True,
                output_hidden_states=True,
                **extra,
            )
        return (out.hidden_states[-1][0].double().numpy(),
                step.hidden_states[-1][:, -1].double().numpy())

    def sequence_logprobs(self, ids: Sequence[int]) -> np.ndarray:
        """log p(ids[k] | <s> ids[:k]) for every k: one forward pass when the text fits the
        window, otherwise token by token (each context cut to the window)."""
        import torch

        ids = self._ids(ids, "ids")
        if not ids:
            return np.zeros(0)
        if self.window is not None and len(ids) > self.window:
            out = np.empty(len(ids))
            logprobs, state = self.start([[]])
            for k, token in enumerate(ids):
                out[k] = logprobs[0, token]
                if k + 1 < len(ids):
                    logprobs, state = self.extend(state, [token])
            return out
        row = torch.tensor([[self.bos_id] + ids[:-1]], dtype=torch.long)
        with torch.inference_mode():
            logits = self.net(input_ids=row, use_cache=False).logits[0]
        logprobs = self._logprobs(logits)
        return logprobs[np.arange(len(ids)), ids]

    # ------------------------------------------------------------------ facts
    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def describe(self) -> dict[str, Any]:
        config = self._config
        facts = super().describe()
        facts.update(
            parameters=self.parameters,
            architecture=type(self.net).__name__,
            layers=getattr(config, "num_hidden_layers", None),
            width=getattr(config, "hidden_size", None),
            heads=getattr(config, "num_attention_heads", None),
            context=self.window,
            path=self.path,
        )
        return facts


def _copy_cache(cache: Any) -> Any:
    """A copy of a ``transformers`` cache that the net may append to or reorder without
    touching the original. A plain ``DynamicLayer`` replaces its tensors (``torch.cat``,
    ``index_select``) instead of writing into them, so sharing its tensors is safe; any other
    layer kind is deep-copied."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    if layers is None:
        return copy.deepcopy(cache)
    new = copy.copy(cache)
    new.layers = [
        copy.copy(layer) if type(layer) is DynamicLayer else copy.deepcopy(layer)
        for layer in layers
    ]
    return new


def _repeatable(cache: Any) -> bool:
    """Whether ``cache`` is a ``transformers`` Cache whose every layer can be repeated along
    the batch (``batch_repeat_interleave``: the dynamic layers; not a static or linear-attention
    layer, nor the tuples of transformers 4.x)."""
    layers = getattr(cache, "layers", None)
    return (hasattr(cache, "batch_repeat_interleave") and layers is not None
            and all(hasattr(layer, "batch_repeat_interleave") for layer in layers))


# ---------------------------------------------------------------------------------- loading
def _special_id(*candidates: Any) -> int | None:
    for value in candidates:
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if value is not None:
            return int(value)
    return None


def load_hf(path: str | Path) -> HFModel:
    """Load the causal LM in the local directory ``path`` (config.json, *.safetensors, a
    tokenizer). A missing ``transformers`` raises a one-line ``ArlmError`` saying how to install
    it; a directory it cannot read raises ``ModelLoadError`` naming it."""
    given = str(path)
    directory = Path(given).expanduser()
    if not directory.is_dir():
        raise ModelLoadError("not a directory (hf: needs a local model directory)",
                             path=directory)
    if not (directory / "config.json").is_file():
        raise ModelLoadError("missing config.json (not a Hugging Face model directory)",
                             path=directory)
    if not any(directory.glob("*.safetensors")):
        raise ModelLoadError("no *.safetensors weights (hf: never reads pickled .bin files)",
                             path=directory)
    try:
        import torch
        import transformers
    except ImportError:
        raise ArlmError(INSTALL_HINT) from None

    from arlm_tui.lm.neural.backend import set_inference_threads

    set_inference_threads()
    logging = transformers.utils.logging
    bars, verbosity = logging.is_progress_bar_enabled(), logging.get_verbosity()
    logging.disable_progress_bar()  # no progress bars or warnings over the terminal UI
    logging.set_verbosity_error()
    try:
        try:
            hf_tokenizer = transformers.AutoTokenizer.from_pretrained(
                directory, local_files_only=True, trust_remote_code=False
            )
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError, ...
            raise ModelLoadError(f"cannot load the tokenizer: {_first_line(exc)}",
                                 path=directory) from None
        try:
            net = transformers.AutoModelForCausalLM.from_pretrained(
                directory,
                local_files_only=True,
                use_safetensors=True,
                trust_remote_code=False,
                dtype=torch.float32,
            )
        except Exception as exc:
            raise ModelLoadError(f"cannot load the model: {_first_line(exc)}",
                                 path=directory) from None
    finally:
        if bars:
            logging.enable_progress_bar()
        logging.set_verbosity(verbosity)

    config = net.config
    eos_id = _special_id(hf_tokenizer.eos_token_id, getattr(config, "eos_token_id", None))
    bos_id = _special_id(hf_tokenizer.bos_token_id, getattr(config, "bos_token_id", None), eos_id)
    if eos_id is None or bos_id is None:
        raise ModelLoadError("the tokenizer has no end-of-text token (eos_token)", path=directory)
    unk_id = _special_id(hf_tokenizer.unk_token_id, eos_id)
    head = net.get_output_embeddings()
    vocab_size = int(head.weight.shape[0]) if head is not None else int(config.vocab_size)
    try:
        tokenizer = HFTokenizer(hf_tokenizer, vocab_size, bos_id=bos_id, eos_id=eos_id,
                                unk_id=eos_id if unk_id is None else unk_id)
    except ValueError as exc:
        raise ModelLoadError(str(exc), path=directory) from None
    if max(bos_id, eos_id) >= tokenizer.known:
        raise ModelLoadError(f"special token ids {bos_id}, {eos_id} are outside the tokenizer",
                             path=directory)
    return HFModel(net, tokenizer, name=f"hf:{given}", path=directory)
