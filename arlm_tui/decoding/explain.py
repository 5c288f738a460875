"""One line, in words, saying why a step chose its token (for the step view, demo and games)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from arlm_tui.decoding.processors import PROCESSORS, TRUNCATOR_NAMES
from arlm_tui.decoding.trace import Trace
from arlm_tui.numbers import fmt_nats
from arlm_tui.numbers import fmt_prob as _p

if TYPE_CHECKING:
    from arlm_tui.decoding.contrastive import ContrastiveStep

#: Processors that cut tokens from the sampling distribution.
_TRUNCATORS = TRUNCATOR_NAMES
#: Processors that change the logits of the tokens they keep (temperature, penalties).
_RESHAPERS = frozenset(cls.name for cls in PROCESSORS if not cls.removes_only)

VocabText = Sequence[str] | Callable[[int], str] | None


def _text_function(trace: Trace, vocab_text: VocabText) -> Callable[[int], str]:
    if vocab_text is None:
        return trace.text_of
    if callable(vocab_text):
        return vocab_text
    return lambda i: vocab_text[i]


def _quoted(text: str) -> str:
    return repr(text)  # quotes, and escapes newlines so the line stays one line


def explain(trace: Trace, vocab_text: VocabText = None) -> str:
    """Why ``trace`` chose its token, in one line.

    ``vocab_text``: how to show a token id (a list of strings, a function such as
    ``tokenizer.token_text``, or None for the trace's own)."""
    line = _explain(trace, vocab_text)
    if trace.beam is None:
        show = _text_function(trace, vocab_text)
        line += _bias_note(trace, show)
        line += _dry_note(trace, show)
        line += _mirostat_note(trace)
        if trace.stop is not None:
            line += f"; the text now ends with the stop string {_quoted(trace.stop)}: it stops"
    return line


def _bias_note(trace: Trace, show: Callable[[int], str]) -> str:
    """"; banned by logit bias: 'x', 'y'" and "; logit bias +2 on the chosen 'z'"."""
    for stage in trace.stages:
        if stage.name == "logit_bias" and stage.note:
            bans = {i for i, b in stage.note if b == -np.inf}
            banned = [i for i in stage.removed if i in bans]  # those the model allowed
            out = ""
            if banned:
                out += "; banned by logit bias: " + ", ".join(_quoted(show(i)) for i in banned)
            bias = dict(stage.note).get(trace.chosen_id)
            if bias is not None and bias != -np.inf:
                out += f"; logit bias {bias:+g} on the chosen {_quoted(show(trace.chosen_id))}"
            return out
    return ""


def _mirostat_note(trace: Trace) -> str:
    """"; mirostat μ 6.00 → 5.71 bits (the choice's surprise 3.29 bits, target τ = 3)"."""
    step = trace.mirostat
    if step is None:
        return ""
    if step.surprise is None:
        return (f"; mirostat μ stays {step.mu_before:.2f} bits (the choice was outside what "
                "mirostat kept)")
    return (f"; mirostat μ {step.mu_before:.2f} → {step.mu_after:.2f} bits (the choice's "
            f"surprise {step.surprise:.2f} bits, target τ = {step.tau:g})")


def _dry_note(trace: Trace, show: Callable[[int], str]) -> str:
    """"; DRY lowered 'x', since 'a b x' would repeat earlier text" when DRY punished a
    repeat (the longest one)."""
    for stage in trace.stages:
        if stage.name == "dry" and stage.note is not None:
            length, token = stage.note
            context = trace.context
            tail = context.tail(length) if hasattr(context, "tail") else list(context)[-length:]
            span = " ".join(show(i) for i in [*tail, token])
            return (f"; DRY lowered {_quoted(show(token))}, since {_quoted(span)} would repeat "
                    "earlier text")
    return ""


def _explain(trace: Trace, vocab_text: VocabText) -> str:
    show = _text_function(trace, vocab_text)
    token = _quoted(show(trace.chosen_id))
    end = "; </s> ends the text" if trace.chosen_token == "</s>" else ""
    raw_p = trace.chosen_raw_prob

    if trace.forced:
        why = f"you forced {token} (p = {_p(raw_p)}, rank {trace.chosen_rank})"
        if raw_p == 0:
            why += ": the model gives it probability 0, so the whole text now has probability 0"
        elif trace.removed_by.get(trace.chosen_id) == "logit_bias":
            why += ", which the logit bias had banned"
        elif trace.chosen_id in trace.removed_by:
            why += f", which {trace.removed_by[trace.chosen_id].replace('_', '-')} had removed"
        return why + end

    if trace.beam is not None:
        beam = trace.beam
        kept = len(beam.survivors)
        line = f"beam kept {kept} of {beam.num_candidates} candidates"
        if beam.num_groups > 1:  # diverse beam search
            penalty = trace.config.get("diversity_penalty", 0.0)
            line += (f" in {beam.num_groups} groups (diversity penalty {penalty:g} per earlier "
                     "group that chose the same token)")
        if beam.done:
            best = beam.finished[0] if beam.finished else None
            if best is not None:
                text = _quoted(" ".join(show(i) for i in best.ids))
                line += (f"; search done, best finished hypothesis {text} "
                         f"(log p = {fmt_nats(best.logprob)}, score = {fmt_nats(best.score)})")
            return line
        finished = len(beam.finished)
        line += f" ({finished} finished)" if finished else ""
        return (f"{line}; best hypothesis now ends with {token} "
                f"(log p = {fmt_nats(trace.cum_logprob)}, p of the token = {_p(raw_p)}){end}")

    if trace.contrastive is not None:
        return _explain_contrastive(trace, trace.contrastive, show) + end

    if trace.draw is None:  # greedy (or temperature 0)
        changed = [s.label for s in trace.stages[1:] if s.removed or s.name in _RESHAPERS]
        if trace.chosen_rank == 1:
            return f"greedy took the most probable token {token} (p = {_p(raw_p)}){end}"
        after = ", ".join(changed) if changed else "processing"
        return (f"greedy took {token} (model p = {_p(raw_p)}, rank {trace.chosen_rank}), the "
                f"most probable token after {after}{end}")

    # sampling
    prefix = ""
    cut = [s for s in trace.stages[1:] if s.name in _TRUNCATORS and s.removed]
    if cut:
        # Coverage is measured on the distribution the first truncation saw (after temperature
        # and penalties), so "top-p = 0.9 kept 4 tokens covering 0.93" is never below p.
        kept_mask = trace.final_probs > 0
        before = trace.stages[trace.stages.index(cut[0]) - 1].probs
        covering = float(np.sum(before[kept_mask]))
        labels = " and ".join(s.label for s in cut)
        noun = "token" if trace.kept == 1 else "tokens"
        prefix = f"{labels} kept {trace.kept} {noun} covering {_p(covering)}; "
    temperature = float(trace.config.get("temperature", 1.0))
    if temperature != 1.0 and any(s.name == "top_n_sigma" for s in cut):
        prefix = prefix[:-2] + " (top-nσ keeps the same tokens at any T); "
    at = f" at T = {temperature:g}" if temperature != 1.0 else ""
    p = trace.chosen_prob
    model_p = f", model p = {_p(raw_p)}" if _p(p) != _p(raw_p) else ""
    if trace.chosen_rank == 1:
        reason = "the most probable token, which a draw picks most often"
    else:
        reason = "sampling draws in proportion to p, so the top token is not always chosen"
    return (f"{prefix}sampled {token} (p = {_p(p)}{model_p}, rank {trace.chosen_rank}){at}: "
            f"{reason}{end}")


def _explain_contrastive(trace: Trace, step: ContrastiveStep, show: Callable[[int], str]) -> str:
    """Which candidate contrastive search took and why: its score (1 − α)·p − α·cos against
    the most probable candidate's (or the runner-up's), and what that one resembled."""
    alpha = step.alpha
    winner = step.winner
    k = len(step.candidates)

    def earlier(position: int) -> str:
        context = trace.context
        if position == 0 or position - 1 >= len(context):
            return "the start"
        return _quoted(show(int(context[position - 1])))

    def score(c) -> str:
        return f"{fmt_nats(c.score)}"

    name = _quoted(show(winner.token_id))
    formula = f"score = (1 − {alpha:g})·p − {alpha:g}·cos"
    if k == 1:
        return f"contrastive search had one candidate, {name} (p = {_p(winner.prob)})"
    if step.chosen == 0:
        runner = max(step.candidates[1:], key=lambda c: c.score)
        return (f"contrastive search kept the most probable of {k} candidates, {name} "
                f"(p = {_p(winner.prob)}, cos {winner.similarity:.2f} with "
                f"{earlier(winner.similar_to)}): {formula} = {score(winner)} beats "
                f"{_quoted(show(runner.token_id))}'s {score(runner)}")
    top = step.candidates[0]
    return (f"contrastive search took {name} (p = {_p(winner.prob)}, {step.chosen + 1} of {k} "
            f"by p) over {_quoted(show(top.token_id))} (p = {_p(top.prob)}), whose hidden state "
            f"is too like {earlier(top.similar_to)}'s (cos {top.similarity:.2f} against "
            f"{winner.similarity:.2f}): {formula} = {score(winner)} > {score(top)}")
