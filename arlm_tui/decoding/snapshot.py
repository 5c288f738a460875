"""A Session as something to show, gathered in one call: the play screen's snapshot, and the
text pieces with their probabilities that the HTML page of a session shows too.

``snapshot(session)`` runs on whichever thread did the engine work, so the screen only copies
finished values into its widgets: the text pieces with their probabilities, the traces, the
live preview of the next step (the distribution space will choose from, under the current model
and knobs; in beam mode also the next expansion of the beams), and the running numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from arlm_tui.decoding.beam import BeamSearch, BeamSnapshot
from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.session import Session
from arlm_tui.decoding.trace import BeamStep, Hypothesis, Trace
from arlm_tui.lm.base import LanguageModel


@dataclass(frozen=True)
class TokenPiece:
    """A generated token as it reads in the text, with the probability the model gave it."""

    text: str
    prob: float
    forced: bool = False
    end: bool = False  # the </s> that ended the text


#: Tokens of left context used to decode one piece (enough for multi-byte characters).
PIECE_WINDOW = 16


def text_pieces(tokenizer: Any, prompt_ids: Sequence[int], generated_ids: Sequence[int],
                eos_id: int) -> tuple[str, list[str]]:
    """The prompt's text and how each generated token extends it.

    Piece i is decode(w + [token_i]) minus decode(w), w being the PIECE_WINDOW tokens before
    it, so the tokenizer's own spacing rules are kept while the cost per token stays constant;
    ``</s>`` reads as " </s>".
    """
    return tokenizer.decode(list(prompt_ids)), following_pieces(tokenizer, prompt_ids,
                                                               generated_ids, eos_id)


def following_pieces(tokenizer: Any, context_ids: Sequence[int], new_ids: Sequence[int],
                     eos_id: int) -> list[str]:
    """How each of ``new_ids`` extends the text of ``context_ids`` (see ``text_pieces``); only
    the last PIECE_WINDOW ids of the context are read, so a step costs the same at any length."""
    ids = list(context_ids[-PIECE_WINDOW:])
    text_of = getattr(tokenizer, "token_text", None)
    pieces = []
    for token in new_ids:
        if token == eos_id:
            pieces.append(" </s>")
            continue
        window = ids[-PIECE_WINDOW:]
        previous = tokenizer.decode(window)
        current = tokenizer.decode([*window, int(token)])
        if current.startswith(previous):
            pieces.append(current[len(previous):])
        else:  # a tokenizer that rewrites earlier text: fall back to the token's own text
            pieces.append(" " + (text_of(int(token)) if text_of else str(token)))
        ids.append(int(token))
    return pieces


@dataclass
class PlaySnapshot:
    """Everything the play screen draws after an engine operation."""

    prompt_text: str
    pieces: list[TokenPiece]
    traces: list[Trace]
    preview: Trace | None
    done: bool
    finished: bool
    can_redo: bool
    logprob: float
    nll: float
    perplexity: float
    bits_per_token: float
    num_tokens: int
    config: DecodingConfig
    model_name: str
    backend: str
    extra: dict[str, Any] = field(default_factory=dict)
    #: beam mode: the next expansion under the current knobs, and the live beams it extends
    beam_preview: BeamStep | None = None
    beam_parents: tuple[Hypothesis, ...] = ()
    #: what the pieces were computed from (a later snapshot of the same text reuses them)
    piece_key: tuple = ()
    #: the stop string that ended the text (None: none did)
    stopped_by: str | None = None


def preview_trace(session: Session) -> Trace | None:
    """The distribution of the token still to come (what ``step`` or ``force`` will use).

    For beam search it is the distribution after the best hypothesis, under the processors a
    beam uses (no sampling warpers). None when the text is done.
    """
    # Session.preview: the step's own processors, draws and state (mirostat's μ), and the
    # shared text rather than a copy of it
    return session.preview()


def preview_beam(session: Session) -> tuple[BeamStep | None, tuple[Hypothesis, ...]]:
    """The next expansion of the beams under the current config (width, length penalty, ...),
    computed on a copy of the search so the session is not changed; and the live beams it
    extends. (None, ()) outside beam mode or when the text is done."""
    if session.done or session.config.strategy != "beam":
        return None, ()
    traces = session.traces
    last = traces[-1] if traces else None
    if last is not None and last.beam is not None:
        beam = last.beam
        search = BeamSearch.from_snapshot(
            session.model, session.prompt_ids, session.config,
            BeamSnapshot(tuple(beam.survivors), tuple(beam.finished), beam.step + 1, beam.done,
                         beam.num_groups))
    else:
        search = BeamSearch(session.model, session.prompt_ids, session.config,
                            generated_ids=session.generated_ids,
                            generated_logprob=session.logprob, first_step=len(traces))
    parents = tuple(search.hypotheses)
    return search.step(), parents


def generated_probs(session: Session) -> list[float]:
    """p(token | context) of each generated token, as the model gave it.

    Sampling and greedy read it from the traces; a beam's best hypothesis changes from step to
    step, so its tokens are scored again (one pass of the model)."""
    generated = session.generated_ids
    traces = session.traces
    if session.config.strategy != "beam" and len(traces) == len(generated) and all(
        t.beam is None for t in traces
    ):
        return [t.chosen_raw_prob for t in traces]
    import numpy as np

    from arlm_tui.lm.scoring import score_ids_from

    if not generated:
        return []
    return [float(x) for x in np.exp(score_ids_from(session.model, session.prompt_ids,
                                                      generated))]


def snapshot(session: Session, previous: PlaySnapshot | None = None, *,
             live: bool = True) -> PlaySnapshot:
    """Gather the screen's data, the live preview of the next step included (``live=False``
    leaves it out: after the model failed to give it). The text pieces of ``previous`` are
    reused when the text has not changed (a knob turned)."""
    model = session.model
    generated = session.generated_ids
    traces = session.traces
    forced = [t.forced for t in traces] if len(traces) == len(generated) else []
    piece_key = (id(model), tuple(session.prompt_ids), tuple(generated), tuple(forced),
                 session.config.strategy == "beam")
    old_key = previous.piece_key if previous is not None else ()
    if previous is not None and old_key == piece_key:
        prompt_text, pieces = previous.prompt_text, previous.pieces
    elif (previous is not None and old_key[:2] == piece_key[:2] and old_key[4] == piece_key[4]
          and not piece_key[4] and len(forced) == len(generated)
          and len(old_key[2]) < len(generated)
          and tuple(generated[:len(old_key[2])]) == old_key[2]
          and old_key[3] == tuple(forced[:len(old_key[3])])):
        # the text grew by a step or more: only the new tokens are decoded
        done = len(old_key[2])
        texts = following_pieces(model.tokenizer, session.prompt_ids + generated[:done],
                                 generated[done:], model.eos_id)
        prompt_text = previous.prompt_text
        pieces = list(previous.pieces) + [
            TokenPiece(text, traces[done + i].chosen_raw_prob, forced[done + i],
                       generated[done + i] == model.eos_id)
            for i, text in enumerate(texts)
        ]
    else:
        prompt_text, texts = text_pieces(model.tokenizer, session.prompt_ids, generated,
                                         model.eos_id)
        probs = generated_probs(session)
        pieces = [
            TokenPiece(text, probs[i] if i < len(probs) else 1.0,
                       forced[i] if i < len(forced) else False,
                       generated[i] == model.eos_id)
            for i, text in enumerate(texts)
        ]
    preview = preview_trace(session) if live else None
    beam_preview, beam_parents = preview_beam(session) if live else (None, ())
    return PlaySnapshot(
        prompt_text=prompt_text,
        pieces=pieces,
        traces=traces,
        preview=preview,
        done=session.done,
        finished=session.finished,
        stopped_by=session.stopped_by,
        can_redo=session.can_redo,
        logprob=session.logprob,
        nll=session.nll,
        perplexity=session.perplexity,
        bits_per_token=session.bits_per_token,
        num_tokens=session.num_tokens,
        config=session.config,
        model_name=model.name,
        backend=model.backend,
        beam_preview=beam_preview,
        beam_parents=beam_parents,
        piece_key=piece_key,
    )


def unknown_words(model: LanguageModel, text: str) -> list[str]:
    """The pieces of ``text`` that ``model``'s vocabulary does not have (each would be read as
    ``<unk>``), in order and without repeats; [] for a tokenizer that knows every text."""
    tokenizer = model.tokenizer
    tokenize = getattr(tokenizer, "tokenize", None)
    if tokenize is None or not text:
        return []
    try:
        pieces = tokenize(text)
        ids = tokenizer.encode(text)
    except Exception:  # noqa: BLE001 - a tokenizer we cannot look into: nothing to mark
        return []
    if len(pieces) != len(ids):
        return []
    unk = model.unk_id
    found: list[str] = []
    for piece, token_id in zip(pieces, ids, strict=True):
        if token_id == unk and piece != "<unk>" and piece not in found:
            found.append(piece)
    return found


def hypothesis_text(tokenizer: Any, eos_id: int) -> Callable[[Sequence[int]], str]:
    """decode(ids) for beam hypotheses: the text of the ids, with " </s>" when it ended."""
    def decode(ids: Sequence[int]) -> str:
        ids = list(ids)
        ended = bool(ids) and ids[-1] == eos_id
        text = tokenizer.decode([i for i in ids if i != eos_id])
        return text + (" </s>" if ended else "")

    return decode
