"""The KV-cache lab: greedy generation with and without a key/value cache, the work per step
and the equality of the outputs (``kv_cache_demo``; needs torch)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from arlm_tui.learn.labs.base import LabUnavailable, import_torch, register_lab

if TYPE_CHECKING:
    from arlm_tui.lm.neural.backend import NeuralLanguageModel


@dataclass(frozen=True)
class CacheStep:
    """Generation step ``step``: positions run through the net and query·key products per
    head and layer, without a cache (the whole prefix again) and with one (the new token)."""

    step: int
    token: str
    positions_without: int
    positions_with: int
    scores_without: int
    scores_with: int
    seconds_without: float
    seconds_with: float
    logprob_gap: float  # max |log p_without − log p_with| at this step


@dataclass(frozen=True)
class KVCacheRun:
    model: str
    note: str
    prompt_tokens: tuple[str, ...]
    steps: tuple[CacheStep, ...]
    tokens_without: tuple[str, ...]
    tokens_with: tuple[str, ...]
    layers: int = 0
    d_model: int = 0

    @property
    def identical(self) -> bool:
        return self.tokens_without == self.tokens_with

    @property
    def positions_without(self) -> int:
        return sum(s.positions_without for s in self.steps)

    @property
    def positions_with(self) -> int:
        return sum(s.positions_with for s in self.steps)

    def cached_step_macs(self, keys: int) -> int:
        """Multiply-adds in the blocks of one cached step whose query meets ``keys`` cached
        keys: L · (12d² + 2·keys·d) (projections and feed-forward, then attention)."""
        d = self.d_model
        return self.layers * (12 * d * d + 2 * keys * d)


#: Words of the untrained demonstration transformer's vocabulary (besides the prompt's).
DEMO_WORDS: tuple[str, ...] = (
    "the", "a", "of", "value", "model", "cache", "key", "token", "is", "and", "to", "in",
    "it", "each", "step", "new", "old", "query", "every", "same", "attention", "next", "word",
)


def _demo_transformer(prompt: str, seed: int) -> tuple[Any, Any, str]:
    """An untrained 2-layer transformer over the prompt's words and ``DEMO_WORDS``; weights
    drawn with a larger spread than training would start from, so that its next-token choices
    are clear-cut (no near-ties that rounding could flip)."""
    torch = import_torch()
    from arlm_tui.lm.neural.config import TransformerConfig
    from arlm_tui.lm.neural.transformer import TransformerLM
    from arlm_tui.text.tokenizers import WordTokenizer

    tokenizer = WordTokenizer.from_vocab(list(dict.fromkeys([*prompt.split(), *DEMO_WORDS])))
    config = TransformerConfig(vocab_size=len(tokenizer.vocab), context=64, layers=2, heads=2,
                               d_model=32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = TransformerLM(config)
        with torch.no_grad():
            for parameter in net.parameters():
                if parameter.dim() > 1:
                    parameter.normal_(0.0, 0.5)
            net.wte.weight[tokenizer.unk_id] = 0.0  # logit 0: <unk> is (almost) never chosen
    note = ("an untrained transformer with random weights (2 layers, 2 heads, d = 32): its "
            "words are nonsense, but the work and the equality of the outputs are real")
    return net.eval(), tokenizer, note


def _transformer_for(model: str | None, prompt: str, seed: int) -> tuple[Any, Any, str, str]:
    from arlm_tui.lm.registry import list_models, load_model

    name = model
    if name is None:
        bundled = [e for e in list_models() if e.backend == "transformer"]
        name = bundled[0].name if bundled else None
    if name is None:
        net, tokenizer, note = _demo_transformer(prompt, seed)
        return net, tokenizer, "untrained demo transformer", note
    import_torch()
    loaded = cast("NeuralLanguageModel", load_model(name))  # a transformer, checked below
    if getattr(loaded, "backend", "") != "transformer":
        raise LabUnavailable(f"model {name!r} is a {loaded.backend} model, not a transformer")
    return loaded.net, loaded.tokenizer, loaded.name, f"the trained model {loaded.name}"


def kv_cache_demo(
    prompt: str, max_tokens: int = 20, model: str | None = None, seed: int = 0
) -> KVCacheRun:
    """Greedy generation twice: without a cache, step t runs all n + t positions of the
    prefix through the net (n = prompt length with ``<s>``) and computes (n + t)(n + t + 1)/2
    query·key products per head; with the KV cache, the first step reads the n prompt
    positions and every later step one new position whose query meets n + t cached keys.
    The model: ``model`` (a transformer by name), else the first bundled transformer, else an
    untrained demonstration transformer."""
    torch = import_torch()
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a whole number >= 1, got {max_tokens!r}")
    net, tokenizer, name, note = _transformer_for(model, prompt, seed)
    from arlm_tui.lm.neural.backend import set_inference_threads

    set_inference_threads()  # as for every neural model: one thread is fastest at this size
    bos, eos = tokenizer.bos_id, tokenizer.eos_id
    prompt_ids = list(tokenizer.encode(prompt))
    start = [bos, *prompt_ids]
    limit = net.config.context
    max_tokens = min(max_tokens, limit - len(start))
    if max_tokens < 1:
        raise LabUnavailable(f"the prompt fills the model's {limit} positions")

    def text(i: int) -> str:
        return tokenizer.token_text(int(i)) if hasattr(tokenizer, "token_text") else str(i)

    without: list[int] = []
    with_cache: list[int] = []
    steps: list[CacheStep] = []
    with torch.inference_mode():
        net(torch.tensor([start], dtype=torch.long))  # warm up, so step 1's timing is fair
        state = None
        for t in range(max_tokens):
            ids = start + without
            began = time.perf_counter()
            z_full = net(torch.tensor([ids], dtype=torch.long))[0, -1]
            seconds_without = time.perf_counter() - began
            began = time.perf_counter()
            if state is None:
                z_cached, state = net.start([start])
                positions_with = len(start)
                scores_with = len(start) * (len(start) + 1) // 2
            else:
                z_cached, state = net.extend(state, torch.tensor([with_cache[-1]]))
                positions_with = 1
                scores_with = len(start) + t
            seconds_with = time.perf_counter() - began
            # compared as log-probabilities (the cached step returns them normalised)
            lp_full = torch.log_softmax(z_full.double(), dim=-1)
            lp_cached = torch.as_tensor(z_cached[0], dtype=torch.float64)
            without.append(int(torch.argmax(lp_full)))
            with_cache.append(int(torch.argmax(lp_cached)))
            finite = torch.isfinite(lp_full) & torch.isfinite(lp_cached)
            gap = float((lp_full[finite] - lp_cached[finite]).abs().max())
            n = len(ids)
            steps.append(CacheStep(t, text(without[-1]), n, positions_with, n * (n + 1) // 2,
                                   scores_with, seconds_without, seconds_with, gap))
            if without[-1] == eos and with_cache[-1] == eos:
                break
            if without[-1] != with_cache[-1]:
                break
    return KVCacheRun(
        model=name,
        note=note,
        prompt_tokens=tuple(text(i) for i in prompt_ids),
        steps=tuple(steps),
        tokens_without=tuple(text(i) for i in without),
        tokens_with=tuple(text(i) for i in with_cache),
        layers=int(net.config.layers),
        d_model=int(net.config.d_model),
    )


@register_lab(
    "kv_cache",
    ("prompt",),
    ("model", "max_tokens"),
    description="generation from `prompt` with and without a key/value cache: work per "
    "step and identical outputs",
)
def from_preset(p: dict[str, Any]) -> KVCacheRun:
    return kv_cache_demo(p["prompt"], p.get("max_tokens", 20), p.get("model"))
