"""Speed of the neural backends: arlm's transformer against Hugging Face ``generate()``.

    python benchmarks/bench_neural.py [--vocab 5000] [--threads N] [--model DIR] [--repeats 3]

Both sides run a GPT-2-shaped net of the size we ship (4 layers, d_model 128, 4 heads, 1024
positions, the given vocabulary; random weights unless ``--model`` names a trained transformer
directory) on the same thread count, and generate 256 tokens after a short prompt:

* greedy and top-p (p = 0.9) through ``arlm_tui.decoding.generate_ids``, which builds a full
  Trace (every processor stage, entropy, ranks) at every step;
* beam search of width 4 through ``arlm_tui.decoding.beam_search``;
* the same with ``transformers``' ``generate()`` (``min_new_tokens`` keeps every run 256 tokens
  long), if ``transformers`` is installed.

It also reports the cost of one token at text positions 50 and 900 (the KV cache keeps a step
cheap however long the text is) and one interactive step of a ``Session``. Targets: ≥5×
Hugging Face for greedy and top-p, ≥3× for beam 4, cost at 900 ≤ 1.5× cost at 50, an
interactive step < 10 ms. Times are the best of ``--repeats`` runs (the machine is shared).
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
PROMPT = [5, 6, 7, 8]


def our_model(vocab: int, model_dir: str | None) -> NeuralLanguageModel:
    if model_dir:
        from arlm_tui.lm.neural import load_neural

        return load_neural(model_dir)
    tokenizer = WordTokenizer.from_vocab([f"w{i}" for i in range(vocab - 3)])
    torch.manual_seed(0)
    config = make_config("transformer", vocab, layers=4, d_model=128, heads=4, context=1024)
    net = build_net("transformer", config)
    with torch.no_grad():  # spread the random logits so sampling is not near-uniform
        net.wte.weight.mul_(20)
    return NeuralLanguageModel(net, tokenizer, backend="transformer", name="bench-transformer")


def hf_model(model: NeuralLanguageModel):
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        return None
    c = model.net.config
    config = GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.context, n_embd=c.d_model, n_layer=c.layers,
        n_head=c.heads, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    return GPT2LMHeadModel(config).eval()


def best_of(repeats: int, run) -> float:
    """Shortest wall time of ``repeats`` calls of run()."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def ours(model, strategy: str, repeats: int) -> float:
    """Tokens per second of arlm's decoding (with Traces) for 256 new tokens."""
    if strategy == "beam":

        def run():
            beam_search(model, PROMPT, width=4, max_tokens=NEW_TOKENS, min_tokens=NEW_TOKENS)
    else:
        knobs = {"top_p": 0.9} if strategy == "sample" else {}
        config = DecodingConfig(
            strategy=strategy, max_tokens=NEW_TOKENS, min_tokens=NEW_TOKENS, seed=1, **knobs
        )

        def run():
            result = generate_ids(model, PROMPT, config)
            assert len(result.ids) == NEW_TOKENS and len(result.traces) == NEW_TOKENS

    return NEW_TOKENS / best_of(repeats, run)


def theirs(hf, strategy: str, repeats: int) -> float:
    ids = torch.tensor([[1, *PROMPT]])
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


def interactive_step(model) -> float:
    """Median seconds of ``Session.step()`` (greedy, with its Trace) after a 200-token prompt."""
    prompt = np.random.default_rng(1).integers(3, model.vocab_size, 200).tolist()
    session = Session(model, prompt, DecodingConfig(strategy="sample", top_p=0.9, max_tokens=60))
    times = []
    for _ in range(40):
        start = time.perf_counter()
        session.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=None, help="default: as loaded")
    parser.add_argument("--model", help="a trained transformer directory instead of random")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    model = our_model(args.vocab, args.model)
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    hf = hf_model(model)
    c = model.net.config
    print(
        f"transformer: {c.layers} layers, d_model {c.d_model}, {c.heads} heads, "
        f"{c.context} positions, vocab {c.vocab_size}, {model.parameters:,} parameters, "
        f"{threads} thread(s), torch {torch.__version__}"
    )
    rows = []
    targets = {"greedy": 5.0, "sample": 5.0, "beam": 3.0}
    for strategy, label in (("greedy", "greedy"), ("sample", "top-p 0.9"), ("beam", "beam 4")):
        mine = ours(model, strategy, args.repeats)
        other = theirs(hf, strategy, args.repeats) if hf is not None else None
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

    at50, at900 = step_cost_at(model, 50), step_cost_at(model, 900)
    step = interactive_step(model)
    print(f"\n{'one token (B=1)':<28}{'ms':>8}")
    print(f"{'at position 50':<28}{at50 * 1e3:8.3f}")
    print(f"{'at position 900':<28}{at900 * 1e3:8.3f}   ratio {at900 / at50:.2f} (target ≤ 1.5)")
    print(f"{'interactive Session.step':<28}{step * 1e3:8.3f}   (target < 10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
