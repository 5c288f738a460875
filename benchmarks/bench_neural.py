"""Speed of the neural backends: arlm's transformer against Hugging Face ``generate()``.

    python benchmarks/bench_neural.py [--model NAME|DIR] [--random [--vocab 5000]]
                                      [--threads N] [--bf16] [--repeats 3]
    python benchmarks/bench_neural.py --sizes [--repeats 1]     # real vocabulary sizes

``--sizes`` (issue 17) runs, side by side on one thread, 256 new tokens each: random weights
of 4 layers × 128 × 4 heads with a 5,000-token vocabulary (greedy, top-p, min-p: target ≥ 5×
``generate()``; beam 4: ≥ 3×), and GPT-2 small's shape (12 × 768 × 12 heads, vocabulary
50,257) written as a GPT-2 checkpoint folder that arlm loads memory-mapped (``lm.neural.gpt2``)
and ``transformers`` loads with ``from_pretrained`` (greedy, top-p: ≥ 3×; beam 4: ≥ 2×), with
the fraction of the arithmetic limit each side reaches (FLOPs per token ÷ this machine's
single-core matmul throughput) and of the memory limit (bytes a step reads ÷ one thread's read
bandwidth: at one token a step reads every weight to do two FLOPs with it, so this is the
limit that binds, and the highest speed-up over ``generate()`` it allows is printed); and
what the processors top-k, top-p, min-p and typical-p together add to a greedy step at 50,257
tokens (target ≤ 25 %).

Both sides run the same net: by default the bundled ``oracle-transformer`` (4 layers, d_model
128, 4 heads, 1024 positions, the oracle's vocabulary), on our side as arlm loads it and on
Hugging Face's as a ``GPT2LMHeadModel`` with the same layers, width, heads, vocabulary and
positions *and the same weights* (GPT-2's architecture is ours: pre-LayerNorm, learned positions,
tanh GELU, tied embeddings), so both compute the same distributions and greedy decoding must
agree. ``--random`` uses random weights of that shape instead (``--vocab`` tokens). Both run on
the same thread count and generate 256 tokens after a short prompt:

* greedy and top-p (p = 0.9) through ``arlm_tui.decoding.generate_ids``, which builds a full
  Trace (every processor stage, entropy, ranks) at every step;
* beam search of width 4 through ``arlm_tui.decoding.beam_search``;
* the same with ``transformers``' ``generate()`` (``min_new_tokens`` keeps every run 256 tokens
  long), if ``transformers`` is installed.

It also reports the cost of one token at text positions 50 and 900 (the KV cache keeps a step
from re-reading the text; what still grows is attention's read of the cached keys and values,
4 KB per position for this model), for the model step alone, for a generated token with its
Trace, and for Hugging Face's cached forward step; and one interactive step of a ``Session``
(top-p sampling with its Trace) for the transformer after a 200-token prompt and for every
bundled model after a prompt of its own corpus. Targets: ≥5× Hugging Face for greedy and top-p, ≥3× for beam 4, cost
at 900 ≤ 1.5× cost at 50, an interactive step < 10 ms. Times are the best of ``--repeats`` runs
(the machine is shared).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from arlm_tui.decoding import DecodingConfig, Session, beam_search, generate_ids  # noqa: E402
from arlm_tui.lm.neural.backend import NeuralLanguageModel  # noqa: E402
from arlm_tui.lm.neural.config import make_config  # noqa: E402
from arlm_tui.lm.neural.io import build_net  # noqa: E402
from arlm_tui.text.tokenizers import WordTokenizer  # noqa: E402

NEW_TOKENS = 256
RANDOM_PROMPT = [5, 6, 7, 8]
BUNDLED_TRANSFORMER = "oracle-transformer"
#: Prompts of the interactive-step table, by the corpus a model was trained on.
STORY_PROMPT = "one day, a young sailor went to the harbor. then,"
PYREF_PROMPT = "The value of"


def our_model(vocab: int, model: str | None) -> NeuralLanguageModel:
    """The transformer ``model`` (bundled name or directory), or random weights if None."""
    if model:
        from arlm_tui.lm.registry import load_model

        loaded = load_model(model)
        if getattr(loaded, "backend", None) != "transformer":
            raise SystemExit(f"{model}: the benchmark needs a transformer model")
        return loaded
    tokenizer = WordTokenizer.from_vocab([f"w{i}" for i in range(vocab - 3)])
    torch.manual_seed(0)
    config = make_config("transformer", vocab, layers=4, d_model=128, heads=4, context=1024)
    net = build_net("transformer", config)
    with torch.no_grad():  # spread the random logits so sampling is not near-uniform
        net.wte.weight.mul_(20)
    return NeuralLanguageModel(net, tokenizer, backend="transformer", name="bench-transformer")


def gpt2_state_dict(net) -> dict[str, torch.Tensor]:
    """Our transformer's tensors under GPT-2's names. GPT-2's ``Conv1D`` stores W as
    (in, out), the transpose of ``nn.Linear``'s (out, in); everything else maps one to one."""
    ours = net.state_dict()
    theirs = {
        "transformer.wte.weight": ours["wte.weight"],
        "transformer.wpe.weight": ours["wpe.weight"],
        "transformer.ln_f.weight": ours["ln_f.weight"],
        "transformer.ln_f.bias": ours["ln_f.bias"],
        "lm_head.weight": ours["wte.weight"],  # tied
    }
    linear = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
    for i in range(net.config.layers):
        for norm in ("ln_1", "ln_2"):
            for part in ("weight", "bias"):
                theirs[f"transformer.h.{i}.{norm}.{part}"] = ours[f"blocks.{i}.{norm}.{part}"]
        for name in linear:
            theirs[f"transformer.h.{i}.{name}.weight"] = ours[f"blocks.{i}.{name}.weight"].t()
            theirs[f"transformer.h.{i}.{name}.bias"] = ours[f"blocks.{i}.{name}.bias"]
    return {k: v.detach().contiguous().clone() for k, v in theirs.items()}


def hf_model(model: NeuralLanguageModel):
    """A ``GPT2LMHeadModel`` of the same shape holding the same weights (None without
    ``transformers``)."""
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        return None
    c = model.net.config
    config = GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.context, n_embd=c.d_model, n_layer=c.layers,
        n_head=c.heads, activation_function="gelu_new", layer_norm_epsilon=1e-5,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip
    hf = GPT2LMHeadModel(config).eval()
    missing, unexpected = hf.load_state_dict(gpt2_state_dict(model.net), strict=False)
    # GPT-2 keeps a causal-mask buffer in older versions; no weight may be left out
    assert not unexpected and all(".attn.bias" in k or "masked_bias" in k for k in missing)
    return hf


def same_distributions(model: NeuralLanguageModel, hf, prompt: list[int]) -> float:
    """Largest |log p_ours − log p_HF| after the prompt (``<s>`` left out: we mask it)."""
    ours = model.next_logprobs(prompt)
    with torch.inference_mode():
        logits = hf(torch.tensor([[model.bos_id, *prompt]])).logits[0, -1].double()
    theirs = torch.log_softmax(logits, dim=-1).numpy()
    keep = np.arange(model.vocab_size) != model.bos_id
    # HF also spends a sliver of probability on <s>: compare renormalised rows
    theirs = theirs[keep] - np.logaddexp.reduce(theirs[keep])
    return float(np.abs(ours[keep] - theirs).max())


def greedy_agreement(model: NeuralLanguageModel, hf, prompt: list[int]) -> int:
    """How many of the 256 greedy tokens both libraries choose alike before they first differ."""
    config = DecodingConfig(strategy="greedy", max_tokens=NEW_TOKENS, min_tokens=NEW_TOKENS)
    mine = generate_ids(model, prompt, config).ids
    ids = torch.tensor([[model.bos_id, *prompt]])
    with torch.inference_mode():
        out = hf.generate(
            ids, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False
        )
    theirs = out[0, ids.shape[1] :].tolist()
    return next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), len(mine))


def best_of(repeats: int, run) -> float:
    """Shortest wall time of ``repeats`` calls of run()."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def ours(model, prompt: list[int], strategy: str, repeats: int) -> float:
    """Tokens per second of arlm's decoding (with Traces) for 256 new tokens."""
    if strategy == "beam":

        def run():
            beam_search(model, prompt, width=4, max_tokens=NEW_TOKENS, min_tokens=NEW_TOKENS)
    else:
        knobs = {"top_p": 0.9} if strategy == "sample" else {}
        config = DecodingConfig(
            strategy=strategy, max_tokens=NEW_TOKENS, min_tokens=NEW_TOKENS, seed=1, **knobs
        )

        def run():
            result = generate_ids(model, prompt, config)
            assert len(result.ids) == NEW_TOKENS and len(result.traces) == NEW_TOKENS

    return NEW_TOKENS / best_of(repeats, run)


def theirs(hf, prompt: list[int], strategy: str, repeats: int) -> float:
    ids = torch.tensor([[1, *prompt]])
    options = {
        "greedy": {"do_sample": False},
        "sample": {"do_sample": True, "top_p": 0.9, "top_k": 0},
        "beam": {"do_sample": False, "num_beams": 4, "early_stopping": True},
    }[strategy]

    def run():
        with torch.inference_mode():
            out = hf.generate(ids, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, **options)
        assert out.shape[1] == ids.shape[1] + NEW_TOKENS

    return NEW_TOKENS / best_of(repeats, run)


def step_cost_at(model, position: int, steps: int = 30) -> float:
    """Median seconds of one ``extend`` (one sequence) around text position ``position``."""
    rng = np.random.default_rng(0)
    context = rng.integers(3, model.vocab_size, position).tolist()
    _, state = model.start([context])
    times = []
    for token in rng.integers(3, model.vocab_size, steps).tolist():
        start = time.perf_counter()
        _, state = model.extend(state, [token])
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def generation_cost_at(model, position: int, tokens: int = 32) -> float:
    """Seconds per token of greedy generation (a full Trace per step) after a prompt of
    ``position`` random tokens: what a learner waits for per token at that point of a text."""
    prompt = np.random.default_rng(2).integers(3, model.vocab_size, position).tolist()
    config = DecodingConfig(strategy="greedy", max_tokens=tokens, min_tokens=tokens)

    def run():
        generate_ids(model, prompt, config)

    # generate_ids reads the prompt too: subtract one prompt read, timed on its own
    read = best_of(3, lambda: model.start([prompt]))
    return (best_of(3, run) - read) / tokens


def hf_step_cost_at(hf, vocab: int, position: int, steps: int = 30) -> float | None:
    """Median seconds of one Hugging Face forward step with its KV cache at ``position``."""
    if hf is None:
        return None
    rng = np.random.default_rng(0)
    ids = torch.tensor([rng.integers(3, vocab, position).tolist()])
    times = []
    with torch.inference_mode():
        past = hf(ids, use_cache=True).past_key_values
        for token in rng.integers(3, vocab, steps).tolist():
            start = time.perf_counter()
            past = hf(torch.tensor([[token]]), past_key_values=past, use_cache=True).past_key_values
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def interactive_step(model, prompt: list[int], steps: int = 40) -> float:
    """Median seconds of ``Session.step()`` (top-p 0.9 sampling, with its Trace) after
    ``prompt``; a finished text starts a new session (next seed) until ``steps`` were timed."""
    times: list[float] = []
    seed = 0
    while len(times) < steps:
        config = DecodingConfig(strategy="sample", top_p=0.9, max_tokens=steps, seed=seed)
        session = Session(model, list(prompt), config)
        while not session.done and len(times) < steps:
            start = time.perf_counter()
            trace = session.step()
            elapsed = time.perf_counter() - start
            if trace is not None:
                times.append(elapsed)
        seed += 1
    return statistics.median(times)


def bundled_steps() -> list[tuple[str, str, float]]:
    """(model, backend, median seconds of one interactive step) for every bundled model."""
    from arlm_tui.build_models import BUNDLED
    from arlm_tui.lm.registry import load_model

    rows = []
    for name in BUNDLED:
        model = load_model(name)
        text = STORY_PROMPT if name.startswith("oracle") else PYREF_PROMPT
        model.next_logprobs(model.tokenizer.encode(text))  # warm-up (lazy tables, caches)
        rows.append((name, model.backend, interactive_step(model, model.tokenizer.encode(text))))
    return rows


# ---------------------------------------------------------------------------------- --sizes
SIZES_KNOBS = {"greedy": {}, "top-p 0.9": {"top_p": 0.9}, "min-p 0.1": {"min_p": 0.1}}
HF_KNOBS = {"greedy": {"do_sample": False},
            "top-p 0.9": {"do_sample": True, "top_p": 0.9, "top_k": 0},
            "min-p 0.1": {"do_sample": True, "min_p": 0.1, "top_k": 0},
            "beam 4": {"do_sample": False, "num_beams": 4, "early_stopping": True}}  # fmt: skip


def warm_up(model, hf, prompt: list[int]) -> None:
    """One short untimed generation each side: compiled kernels loaded, caches allocated."""
    generate_ids(model, prompt, DecodingConfig(strategy="greedy", max_tokens=4))
    beam_search(model, prompt, width=4, max_tokens=4)
    ids = torch.tensor([[model.bos_id, *prompt]])
    with torch.inference_mode():
        hf.generate(ids, attention_mask=torch.ones_like(ids), pad_token_id=model.bos_id,
                    max_new_tokens=4, do_sample=False)


def tokens_per_second(model, prompt: list[int], label: str, repeats: int) -> float:
    """arlm: 256 new tokens with a full Trace per step (beam search: its own explanation)."""
    if label == "beam 4":

        def run():
            beam_search(model, prompt, width=4, max_tokens=NEW_TOKENS, min_tokens=NEW_TOKENS)
    else:
        strategy = "greedy" if label == "greedy" else "sample"
        config = DecodingConfig(strategy=strategy, max_tokens=NEW_TOKENS, min_tokens=NEW_TOKENS,
                                seed=1, **SIZES_KNOBS[label])  # fmt: skip

        def run():
            result = generate_ids(model, prompt, config)
            assert len(result.ids) == NEW_TOKENS and len(result.traces) == NEW_TOKENS

    return NEW_TOKENS / best_of(repeats, run)


def hf_tokens_per_second(hf, start_id: int, prompt: list[int], label: str, repeats: int) -> float:
    ids = torch.tensor([[start_id, *prompt]])

    def run():
        with torch.inference_mode():
            out = hf.generate(ids, attention_mask=torch.ones_like(ids), pad_token_id=start_id,
                              max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                              **HF_KNOBS[label])  # fmt: skip
        assert out.shape[1] == ids.shape[1] + NEW_TOKENS

    return NEW_TOKENS / best_of(repeats, run)


def matmul_flops() -> float:
    """FLOP/s of one large float32 matrix product on one thread (this machine's arithmetic
    limit for a step, which a one-token step cannot reach: it reads each weight once)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    return 2 * 2048**3 / best_of(3, lambda: a @ b)


def read_bandwidth() -> float:
    """Bytes/s one thread reads from memory: a float32 sum over 256 MB (8× the L3 cache), the
    floor of a one-token step, which reads every weight once and does two FLOPs per weight."""
    a = torch.randn(64 << 20)
    a.sum()
    return a.numel() * 4 / best_of(5, a.sum)


def bytes_per_step(layers: int, d: int, vocab: int, position: int, rows: int) -> float:
    """Bytes a step must read, in float32: the block matrices (12·d² a layer) and the output
    matrix E (V·d) once for all ``rows``, and each row's cached keys and values (2·d a layer
    and position). Biases, norms and the few embedding rows are left out (< 0.1 %)."""
    return 4.0 * (layers * 12 * d * d + vocab * d + rows * layers * 2 * d * position)


def flops_per_token(layers: int, d: int, vocab: int, position: int) -> float:
    """Multiply-adds ×2 of one token's step: 12·d² weights a block, attention over
    ``position`` keys (q·k and a·v, 2·d each), the output product d·V."""
    return 2.0 * (layers * (12 * d * d + 2 * d * position) + d * vocab)


def write_gpt2_folder(directory: Path, layers: int, d: int, heads: int, vocab: int) -> Path:
    """A GPT-2 checkpoint folder with random weights (``transformers``' initialisation, the
    token embedding ×20 so that sampling is not near-uniform) and a word-level tokenizer of
    ``vocab`` tokens, the last one ``<|endoftext|>``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel

    directory.mkdir(parents=True, exist_ok=True)
    words = {f"w{i}": i for i in range(vocab - 1)} | {"<|endoftext|>": vocab - 1}
    tok = Tokenizer(models.WordLevel(words, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(["<|endoftext|>"])
    tok.save(str(directory / "tokenizer.json"))
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=vocab, n_positions=1024, n_embd=d, n_layer=layers,
                        n_head=heads, bos_token_id=vocab - 1, eos_token_id=vocab - 1)  # fmt: skip
    net = GPT2LMHeadModel(config)
    with torch.no_grad():
        net.transformer.wte.weight.mul_(20)
    net.save_pretrained(directory)
    return directory


RESIDENT_CODE = """
import sys, time
from pathlib import Path
import torch
from arlm_tui.lm.registry import load_model

def resident():
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return [int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "RssAnon", "RssFile")]

before = resident()
start = time.perf_counter()
model = load_model(sys.argv[1])
seconds = time.perf_counter() - start
loaded = resident()
logprobs, state = model.start([[5, 6, 7]])
for _ in range(8):
    logprobs, state = model.extend(state, [int(logprobs[0].argmax())])
print(seconds, *before, *loaded, *resident())
"""


def resident_after_load(folder: Path) -> str:
    """A fresh interpreter (torch imported) loads ``folder`` and takes 8 greedy steps: load
    time and resident memory (MB; private = anonymous pages, file = mapped pages)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", RESIDENT_CODE, str(folder)], capture_output=True,
                         text=True, check=True, cwd=ROOT,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    seconds, *mb = (float(v) for v in out.stdout.split())
    (rss0, anon0, file0), (rss1, anon1, file1), (rss2, anon2, file2) = mb[:3], mb[3:6], mb[6:]
    return (f"loaded in {seconds:.2f} s; resident {rss1:.0f} MB after loading ({anon1:.0f} "
            f"private, {file1:.0f} file pages; torch alone {rss0:.0f}: {anon0:.0f} + {file0:.0f}), "
            f"{rss2:.0f} MB after 8 steps ({anon2:.0f} + {file2:.0f})")  # fmt: skip


def processor_overhead(model, prompt: list[int], repeats: int) -> tuple[float, float]:
    """Seconds per token of greedy generation (full Trace), and of sampling with top-k 1000,
    top-p 0.9, min-p 0.01 and typical-p 0.9 all on (every stage in the Trace)."""
    tokens = 32
    plain = DecodingConfig(strategy="greedy", max_tokens=tokens, min_tokens=tokens)
    knobs = DecodingConfig(strategy="sample", max_tokens=tokens, min_tokens=tokens, seed=1,
                           top_k=1000, top_p=0.9, min_p=0.01, typical_p=0.9)  # fmt: skip
    times = [best_of(repeats, lambda c=c: generate_ids(model, prompt, c)) / tokens
             for c in (plain, knobs)]  # fmt: skip
    return times[0], times[1]


def sizes_main(repeats: int) -> int:
    """Issue 17's table: real vocabulary sizes, one thread each side."""
    import tempfile

    import transformers
    from transformers import GPT2LMHeadModel

    from arlm_tui.lm.neural.backend import set_inference_threads
    from arlm_tui.lm.registry import load_model

    set_inference_threads()
    limit, bandwidth = matmul_flops(), read_bandwidth()
    print(f"one thread, torch {torch.__version__}, transformers {transformers.__version__}; "
          f"single-core float32 matmul: {limit / 1e9:.1f} GFLOP/s, memory read: "
          f"{bandwidth / 1e9:.1f} GB/s; {NEW_TOKENS} new tokens, arlm with a full Trace per "
          "step")  # fmt: skip
    header = f"{'':<28}{'arlm tok/s':>11}{'HF tok/s':>10}{'speed-up':>10}{'target':>8}"

    small = our_model(5000, None)
    hf = hf_model(small)
    prompt = RANDOM_PROMPT
    warm_up(small, hf, prompt)
    print(f"\n4 layers × 128 × 4 heads, vocab 5,000, float32 (random weights): max |Δ log p| "
          f"{same_distributions(small, hf, prompt):.1e}\n{header}")  # fmt: skip
    for label, target in (("greedy", 5), ("top-p 0.9", 5), ("min-p 0.1", 5), ("beam 4", 3)):
        mine = tokens_per_second(small, prompt, label, repeats)
        other = hf_tokens_per_second(hf, small.bos_id, prompt, label, repeats)
        print(f"{label:<28}{mine:11.0f}{other:10.0f}{mine / other:9.1f}×{target:7.0f}×"
              f"{' ok' if mine / other >= target else ' below'}")
    plain, knobs = processor_overhead(small, prompt, repeats)
    print(f"processors at 5,000 tokens: greedy step {plain * 1e3:.2f} ms, sampling with top-k, "
          f"top-p, min-p and typical-p {knobs * 1e3:.2f} ms (+{knobs / plain - 1:.0%})")

    with tempfile.TemporaryDirectory() as tmp:
        folder = write_gpt2_folder(Path(tmp) / "gpt2-small-shape", 12, 768, 12, 50257)
        memory = resident_after_load(folder)
        size = (folder / "model.safetensors").stat().st_size
        big = load_model(folder)
        hf = GPT2LMHeadModel.from_pretrained(folder).eval()
        prompt = [5, 6, 7, 8]
        theirs_lp = torch.log_softmax(hf(torch.tensor([[big.bos_id, *prompt]])).logits[0, -1]
                                      .double(), -1).detach().numpy()  # fmt: skip
        delta = float(np.abs(big.next_logprobs(prompt) - theirs_lp).max())
        warm_up(big, hf, prompt)
        print(f"\nGPT-2 small's shape, 12 layers × 768 × 12 heads, vocab 50,257 (random weights "
              f"in a GPT-2 folder, {size / 1e6:.0f} MB of float32), arlm memory-mapped: "
              f"{memory}; "
              f"max |Δ log p| {delta:.1e}")  # fmt: skip
        flops = flops_per_token(12, 768, 50257, 130)
        # "limit": FLOPs per step ÷ the matmul's FLOP/s; "mem": bytes per step ÷ the read
        # bandwidth (a step at 100 % of it cannot go faster in float32 on one core)
        print(f"{header}{'arlm limit':>12}{'HF limit':>10}{'arlm mem':>10}{'HF mem':>8}")
        for label, target in (("greedy", 3), ("top-p 0.9", 3), ("beam 4", 2)):
            mine = tokens_per_second(big, prompt, label, repeats)
            other = hf_tokens_per_second(hf, big.bos_id, prompt, label, repeats)
            rows = 4 if label == "beam 4" else 1
            moved = bytes_per_step(12, 768, 50257, 130, rows)
            print(f"{label:<28}{mine:11.1f}{other:10.1f}{mine / other:9.1f}×{target:7.0f}×"
                  f"{' ok' if mine / other >= target else ' below'}"
                  f"{mine * rows * flops / limit:11.1%}{other * rows * flops / limit:10.1%}"
                  f"{mine * moved / bandwidth:10.0%}{other * moved / bandwidth:8.0%}")
            if rows == 1:
                floor = moved / bandwidth
                print(f"{'':<4}float32 floor: {moved / 1e6:.0f} MB a step = {floor * 1e3:.1f} "
                      f"ms; no one-thread float32 step beats HF's {1e3 / other:.1f} ms by more "
                      f"than {1 / (other * floor):.1f}×")
        plain, knobs = processor_overhead(big, prompt, repeats)
        print(f"\nprocessors at 50,257 tokens: greedy step {plain * 1e3:.1f} ms, sampling with "
              f"top-k, top-p, min-p and typical-p {knobs * 1e3:.1f} ms: "
              f"+{knobs / plain - 1:.1%} (target ≤ 25 %)")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=BUNDLED_TRANSFORMER, help="a transformer: bundled name or directory"
    )
    parser.add_argument("--random", action="store_true", help="random weights instead")
    parser.add_argument("--vocab", type=int, default=5000, help="vocabulary with --random")
    parser.add_argument("--threads", type=int, default=None, help="default: as loaded")
    parser.add_argument(
        "--bf16", action="store_true", help="round the weights to bfloat16 first (both sides)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", action="store_true",
                        help="issue 17's table: 5,000 and 50,257-token vocabularies")
    args = parser.parse_args(argv)
    if args.sizes:
        return sizes_main(args.repeats)

    model = our_model(args.vocab, None if args.random else args.model)
    if args.bf16:
        with torch.no_grad():
            for p in model.net.parameters():
                p.copy_(p.to(torch.bfloat16).float())
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    hf = hf_model(model)
    prompt = RANDOM_PROMPT if args.random else model.tokenizer.encode("one day,")
    c = model.net.config
    weights = "random weights" if args.random else f"{model.name}'s weights"
    print(
        f"transformer ({weights}): {c.layers} layers, d_model {c.d_model}, {c.heads} heads, "
        f"{c.context} positions, vocab {c.vocab_size}, {model.parameters:,} parameters, "
        f"{threads} thread(s), torch {torch.__version__}"
    )
    if hf is not None:
        import transformers

        print(
            f"Hugging Face GPT2LMHeadModel, transformers {transformers.__version__}, same "
            f"weights: max |Δ log p| {same_distributions(model, hf, prompt):.1e}, greedy "
            f"tokens identical {greedy_agreement(model, hf, prompt)}/{NEW_TOKENS}"
        )
    rows = []
    targets = {"greedy": 5.0, "sample": 5.0, "beam": 3.0}
    for strategy, label in (("greedy", "greedy"), ("sample", "top-p 0.9"), ("beam", "beam 4")):
        mine = ours(model, prompt, strategy, args.repeats)
        other = theirs(hf, prompt, strategy, args.repeats) if hf is not None else None
        ratio = mine / other if other else None
        rows.append((label, mine, other, ratio, targets[strategy]))

    print(
        f"\n{'256 new tokens':<16}{'arlm tok/s':>12}{'HF tok/s':>10}{'speed-up':>10}{'target':>8}"
    )
    for label, mine, other, ratio, target in rows:
        other_text = f"{other:10.0f}" if other else f"{'n/a':>10}"
        ratio_text = f"{ratio:9.1f}×" if ratio else f"{'n/a':>10}"
        ok = "" if ratio is None else (" ok" if ratio >= target else " below")
        print(f"{label:<16}{mine:12.0f}{other_text}{ratio_text}{target:7.0f}×{ok}")

    V = model.vocab_size
    costs = {
        "model step (extend)": (step_cost_at(model, 50), step_cost_at(model, 900)),
        "generated token (Trace)": (generation_cost_at(model, 50), generation_cost_at(model, 900)),
        "HF forward step": (hf_step_cost_at(hf, V, 50), hf_step_cost_at(hf, V, 900)),
    }
    long_prompt = np.random.default_rng(1).integers(3, model.vocab_size, 200).tolist()
    step = interactive_step(model, long_prompt)
    print(f"\n{'one token (B=1), ms':<28}{'at 50':>8}{'at 900':>8}   ratio (target ≤ 1.5)")
    for label, (at50, at900) in costs.items():
        if at50 is None:
            continue
        ok = "ok" if at900 / at50 <= 1.5 else "above"
        print(f"{label:<28}{at50 * 1e3:8.3f}{at900 * 1e3:8.3f}   {at900 / at50:.2f} {ok}")
    print(f"{'Session.step after 200':<28}{step * 1e3:8.3f}   (target < 10)")

    print(f"\n{'interactive Session.step':<28}{'backend':<13}{'ms':>8}   (target < 10)")
    for name, backend, seconds in bundled_steps():
        ok = "ok" if seconds < 0.010 else "SLOW"
        print(f"{name:<28}{backend:<13}{seconds * 1e3:8.3f}   {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
