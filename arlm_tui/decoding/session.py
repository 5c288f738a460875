"""An interactive generation: step, undo, redo, force a token, change knobs, save and replay.

A ``Session`` holds a model, a prompt, the current ``DecodingConfig`` and the steps taken so far
(one ``Trace`` each). It keeps the model state for the text so far, so a step costs one
``model.extend``; when the text changes in another way (undo past a step, a strategy switch)
the state is rebuilt with ``model.start`` from the text, never reused wrongly.

Determinism: step i draws its randomness from (seed, i), so undo then step gives the same
token again, redo re-applies the undone step exactly, and ``from_json`` replays a saved session
with identical choices (raising ``ReplayError`` if a choice differs). ``draws`` says which version
of the draws (``draws.step_draw``) the session uses: the current one, or 1 for a session saved in
format 1, whose steps replay and continue with the draws they were made with.

Beam strategy: each step advances all beams; the step's Trace carries the ``BeamStep`` and the
session's text is the best hypothesis (the most probable live beam while searching, the best
finished one when done). Forcing a token in beam mode commits the best beam plus that token and
restarts the beam from there.

Memory: the text is a ``TokenSeq`` (tokens.py), so each step's record and Trace share the text
with the step before and add one node; a Trace rebuilds its probability vectors from the
model's log-probs rather than storing each stage. A session of N steps keeps O(N) memory, and a
step costs the same at token 10,000 as at token 100 for a model that reads a bounded context
(an n-gram's last n−1 tokens; ``model.start`` gets the TokenSeq itself, whose tail is cheap).

Switching model (``set_model``) starts a new segment: the text so far (re-encoded with the new
tokenizer) becomes the prompt. The switch is itself a step of the history: undo past it returns to
the earlier model, its prompt and its steps (which can be undone further), and redo re-applies
the switch. A new prompt (``set_prompt``) starts the whole history again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from arlm_tui.decoding import draws as _draws
from arlm_tui.decoding.beam import BeamSearch, BeamSnapshot, beam_processors
from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.processors import LogitsProcessor
from arlm_tui.decoding.strategies import (
    as_prompt_ids,
    bias_token_id,
    decode_step,
    model_token_id,
    processors_for,
)
from arlm_tui.decoding.tokens import TokenSeq
from arlm_tui.decoding.trace import RunningScores, Trace, json_float
from arlm_tui.errors import ArlmError
from arlm_tui.lm.base import LanguageModel

FORMAT = "arlm-session"
#: 2: the draws of ``draws.VERSION`` 2, unless the file says ``"draws": 1``; 1: draws version 1.
FORMAT_VERSION = 2


class ReplayError(ArlmError, ValueError):
    """A saved session that cannot be read or does not replay to the same choices."""


@dataclass(frozen=True, slots=True)
class _Record:
    """One step as taken: its trace, the config in force, and the whole text after it (prompt
    and generated ids, a TokenSeq that shares everything but its last node with the step
    before)."""

    trace: Trace
    config: DecodingConfig
    forced: bool
    context: TokenSeq
    beam: BeamSnapshot | None = None


@dataclass
class _Segment:
    """The part of a session's history with one model: its model, prompt and steps."""

    model: LanguageModel
    root: TokenSeq  # the prompt
    records: list[_Record]


class Session(RunningScores):
    """Step-by-step generation with undo/redo, forced tokens and replay (see module docstring)."""

    def __init__(
        self,
        model: LanguageModel,
        prompt: str | Sequence[int] = "",
        config: DecodingConfig | None = None,
        **knobs: Any,
    ):
        config = config if config is not None else DecodingConfig()
        config = config.replace(**knobs) if knobs else config
        self.model = model
        self.check_tokens(config)
        self.config: DecodingConfig = config
        #: the version of the random draws (``draws.step_draw``); 1 for a format-1 session
        self.draws: int = _draws.VERSION
        self._root = TokenSeq.of(as_prompt_ids(model, prompt))
        self._prompt_ids: list[int] = self._root.tolist()
        self._records: list[_Record] = []
        # redo entries: an undone step, or (a _Segment) an undone model switch
        self._redo: list[_Record | _Segment] = []
        # the segments before each model switch, oldest first (see set_model)
        self._segments: list[_Segment] = []
        self._beam: BeamSearch | None = None
        # model state for exactly the text _state_seq, and the next-token log-probs after it
        self._state: Any = None
        self._state_seq: TokenSeq | None = None
        self._next_logprobs: np.ndarray | None = None
        self._processor_cache: tuple[DecodingConfig, int, list[LogitsProcessor], dict] | None = None
        # contrastive search: the last preview (context, config, trace), which the step after
        # it takes as it is rather than run the model k + 1 more times
        self._contrastive_preview: tuple[TokenSeq, DecodingConfig, Trace] | None = None

    # ------------------------------------------------------------------ what the text is
    @property
    def traces(self) -> list[Trace]:
        """One Trace per step taken (a new list: O(steps); ``last_trace`` is O(1))."""
        return [r.trace for r in self._records]

    @property
    def last_trace(self) -> Trace | None:
        """The last step's Trace, or None before the first step."""
        return self._records[-1].trace if self._records else None

    @property
    def num_steps(self) -> int:
        return len(self._records)

    @property
    def prompt_ids(self) -> list[int]:
        """The prompt's ids (of the current model's segment)."""
        return self._prompt_ids

    @property
    def context(self) -> TokenSeq:
        """Prompt and generated ids as a shared ``TokenSeq`` (no copy)."""
        return self._records[-1].context if self._records else self._root

    @property
    def num_generated(self) -> int:
        """len(generated_ids), without building them."""
        return len(self.context) - len(self._root)

    @property
    def generated_ids(self) -> list[int]:
        """Ids generated after the prompt (``</s>`` included if the text ended); a new list."""
        return self.context[len(self._root):] if self._records else []

    @property
    def context_ids(self) -> list[int]:
        """Prompt and generated ids; a new list."""
        return self.context.tolist()

    def next_logprobs(self) -> np.ndarray:
        """The model's log-probs for the token after the text so far, from the session's model
        state (one ``extend`` at most), so a preview costs nothing the next step repeats."""
        return self._next_for(self.context)

    def preview(self) -> Trace | None:
        """The Trace of the token still to come, without taking the step: for greedy and
        sampling exactly what ``step()`` would make (same distribution, same choice); for beam
        search the distribution after the best hypothesis under the processors a beam uses
        (no sampling warpers), with its arg-max as the choice. None when the text is done.
        It shares the step's model state, processors and text, so it costs one step's work at
        most and the step that follows reuses it."""
        if self.done:
            return None
        config = self.config
        if config.strategy == "beam":
            config = config.replace(strategy="greedy")
        context = self.context
        cached = self._contrastive_preview
        if (config.strategy == "contrastive" and cached is not None and cached[0] is context
                and cached[1] == config):
            return cached[2]
        logprobs = self._next_for(context)
        cum, num = self._totals()
        processors, config_dict = self._processors(config)
        trace = decode_step(self.model, context, logprobs, config, self.num_generated,
                            len(self._root), cum, num, processors=processors,
                            config_dict=config_dict, draws=self.draws,
                            mirostat_mu=self._mirostat_mu(config))
        if config.strategy == "contrastive":
            self._contrastive_preview = (context, config, trace)
        return trace

    @property
    def text(self) -> str:
        """Prompt and generated text, decoded (``</s>`` is not shown)."""
        return self.model.tokenizer.decode(self.context_ids)

    @property
    def finished(self) -> bool:
        """True if ``</s>`` ended the text."""
        return self.num_generated > 0 and self.context.last == self.model.eos_id

    @property
    def done(self) -> bool:
        """No further step: ``</s>`` was chosen, max_tokens reached, the text ended with one of
        the stop strings, or the beam search ended."""
        if not self._records:
            return False
        last = self._records[-1]
        if last.beam is not None:
            return last.beam.done
        return (self.finished or self.num_generated >= self.config.max_tokens
                or self.stopped_by is not None)

    @property
    def stopped_by(self) -> str | None:
        """The stop string that ended the text at the last step (one of the current config's),
        or None."""
        if not self._records:
            return None
        stop = self._records[-1].trace.stop
        return stop if stop is not None and stop in self.config.stop else None

    @property
    def can_undo(self) -> bool:
        return bool(self._records or self._segments)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    # ------------------------------------------------------------------ running scores
    @property
    def logprob(self) -> float:
        """log p(generated | prompt) = Σ log p(w_t | w_<t) over the generated tokens."""
        return self._records[-1].trace.cum_logprob if self._records else 0.0

    @property
    def num_tokens(self) -> int:
        return self._records[-1].trace.num_tokens if self._records else 0

    @property
    def nll(self) -> float:
        """-log p(generated | prompt), nats."""
        return -self.logprob

    # ------------------------------------------------------------------ actions
    def step(self) -> Trace | None:
        """Take one step with the current config; None if the text is done."""
        if self.done:
            return None
        self._redo.clear()
        return self._advance(None)

    def force(self, token: int | str) -> Trace | None:
        """The learner chooses the next token (an id, or a token string as in the vocabulary or
        as the tokenizer reads it). None if the text is done. Unknown tokens raise ArlmError."""
        token_id = self.token_id(token)
        if self.done:
            return None
        self._redo.clear()
        return self._advance(token_id)

    def undo(self) -> bool:
        """Take back the last step, or the last model switch (back to the earlier model, its
        prompt and steps); False if there is nothing to undo."""
        if self._records:
            self._redo.append(self._records.pop())
        elif self._segments:
            self._redo.append(self._enter(self._segments.pop()))
        else:
            return False
        self._beam = None
        return True

    def redo(self) -> bool:
        """Re-apply the last undone step exactly (same token, same trace), or the last undone
        model switch; False if none."""
        if not self._redo:
            return False
        entry = self._redo.pop()
        if isinstance(entry, _Segment):
            self._segments.append(self._enter(entry))
        else:
            self._records.append(entry)
        self._beam = None
        return True

    def reset(self) -> None:
        """Back to the prompt of the current model's segment, same config (an earlier model
        switch can still be undone)."""
        self._records.clear()
        self._redo.clear()
        self._beam = None

    def configure(self, **knobs: Any) -> None:
        """Change knobs (validated; a logit bias's tokens must be in the model's vocabulary,
        ArlmError otherwise); they apply from the next step."""
        config = self.config.replace(**knobs)
        self.check_tokens(config)
        self.config = config

    def check_tokens(self, config: DecodingConfig, model: LanguageModel | None = None) -> None:
        """ArlmError (one line naming the token and the model) if ``config``'s logit bias
        names a token that ``model`` (default: the session's) does not have."""
        if config.logit_bias:
            find = bias_token_id(model if model is not None else self.model)
            for token in config.logit_bias:
                find(token)

    def set_prompt(self, prompt: str | Sequence[int]) -> None:
        """A new prompt; the step history (model switches included) starts again."""
        self._set_root(TokenSeq.of(as_prompt_ids(self.model, prompt)))
        self._segments.clear()
        self.reset()

    def set_model(self, model: LanguageModel) -> None:
        """Continue with another model: the text so far, re-encoded with its tokenizer, becomes
        the prompt. Undo past the switch returns to the earlier model and its steps."""
        self.check_tokens(self.config, model)
        root = TokenSeq.of(as_prompt_ids(model, self.text))
        self._segments.append(self._enter(_Segment(model, root, [])))
        self._redo.clear()
        self._beam = None

    def _set_root(self, root: TokenSeq) -> None:
        self._root = root
        self._prompt_ids = root.tolist()
        self._state = self._state_seq = self._next_logprobs = None
        self._processor_cache = None

    def _enter(self, segment: _Segment) -> _Segment:
        """Make ``segment`` the current one; return the one it replaces."""
        left = _Segment(self.model, self._root, self._records)
        self.model, self._records = segment.model, segment.records
        self._set_root(segment.root)
        return left

    def token_id(self, token: int | str) -> int:
        """The id of ``token``: an id, a vocabulary string, or text that encodes to one token
        (``strategies.model_token_id``; ArlmError for an unknown token)."""
        return model_token_id(self.model, token)

    # ------------------------------------------------------------------ internals
    def _advance(self, force: int | None) -> Trace | None:
        if self.config.strategy == "beam":
            return self._beam_step(force)
        self._beam = None  # a later beam step starts from the text as it will be
        return self._token_step(force)

    def _totals(self) -> tuple[float, int]:
        if not self._records:
            return 0.0, 0
        trace = self._records[-1].trace
        return trace.cum_logprob, trace.num_tokens

    def _next_for(self, context: TokenSeq) -> np.ndarray:
        """Next-token log-probs after ``context``: one extend if the state is one token behind,
        nothing if it is current, a fresh start otherwise. The texts are compared by identity
        of their shared nodes (constant time), by content only when lengths match otherwise.
        ``model.start`` gets the TokenSeq itself: a model that reads only the last n−1 tokens
        (an n-gram) walks only those."""
        seen = self._state_seq
        if self._state is not None and seen is not None and self._next_logprobs is not None:
            if context is seen or (len(context) == len(seen) and context == seen):
                return self._next_logprobs
            parent = context.parent
            if parent is not None and (parent is seen or (len(parent) == len(seen)
                                                          and parent == seen)):
                logprobs, self._state = self.model.extend(self._state, [context.last])
                self._state_seq, self._next_logprobs = context, logprobs[0]
                return self._next_logprobs
        logprobs, self._state = self.model.start([context])
        self._state_seq, self._next_logprobs = context, logprobs[0]
        return self._next_logprobs

    def _processors(self, config: DecodingConfig) -> tuple[list[LogitsProcessor], dict]:
        key = (config, len(self.prompt_ids))
        cache = self._processor_cache
        if cache is None or (cache[0], cache[1]) != key:
            procs = processors_for(self.model, config, len(self.prompt_ids))
            cache = self._processor_cache = (config, len(self.prompt_ids), procs,
                                             config.to_dict())
        return cache[2], cache[3]

    def _token_step(self, force: int | None) -> Trace:
        config = self.config
        context = self.context
        cached = self._contrastive_preview
        if (config.strategy == "contrastive" and force is None and cached is not None
                and cached[0] is context and cached[1] == config):
            trace = cached[2]  # the preview of this very step
            self._contrastive_preview = None
        else:
            logprobs = self._next_for(context)
            cum, num = self._totals()
            processors, config_dict = self._processors(config)
            trace = decode_step(self.model, context, logprobs, config, self.num_generated,
                                len(self._root), cum, num, force,
                                processors=processors, config_dict=config_dict,
                                draws=self.draws, mirostat_mu=self._mirostat_mu(config))
        after = context.append(trace.chosen_id)
        trace.stop = self._stop_string(config, after)
        self._records.append(_Record(trace, config, force is not None, after))
        return trace

    def _stop_string(self, config: DecodingConfig, text: TokenSeq) -> str | None:
        """The first of ``config.stop`` that the generated text ``text`` (after the prompt)
        now ends with, or that ends inside its last token (a token "." + newline still stops
        at "."), or None. Only the last tokens are decoded (enough for the longest stop
        string), so the check costs the same at token 10,000 as at token 100."""
        if not config.stop or config.strategy == "beam":
            return None
        generated = len(text) - len(self._root)
        if generated <= 0 or text.last == self.model.eos_id:
            return None
        longest = max(len(stop) for stop in config.stop)
        tail = text.tail(min(generated, longest + 2))
        decode = self.model.tokenizer.decode
        whole = decode(tail)
        before = decode(tail[:-1]) if len(tail) > 1 else ""
        new_from = len(before) if whole.startswith(before) else 0
        for stop in config.stop:
            if whole.find(stop, max(new_from - len(stop) + 1, 0)) != -1:
                return stop
        return None

    def _mirostat_mu(self, config: DecodingConfig) -> float | None:
        """Mirostat's μ for the next step: the μ after the last step when that step used
        mirostat with the same target τ, else None (start again from 2τ, as llama.cpp does
        when its sampler is made anew). It is read from the step records, so undo, redo and
        replay (which rebuild or restore them) restore μ with them."""
        if not self._records:
            return None
        last = self._records[-1].trace.mirostat
        if last is None or last.tau != config.mirostat_tau:
            return None
        return last.mu_after

    def _beam_search(self) -> BeamSearch:
        """The search continuing from the last step (rebuilt after undo/redo or a switch)."""
        if self._beam is None:
            last = self._records[-1] if self._records else None
            if last is not None and last.beam is not None:
                self._beam = BeamSearch.from_snapshot(self.model, self.prompt_ids, self.config,
                                                      last.beam)
            else:
                cum, _ = self._totals()
                self._beam = BeamSearch(self.model, self.prompt_ids, self.config,
                                        context=self.context, generated_logprob=cum,
                                        first_step=len(self._records))
        self._beam.config = self.config
        return self._beam

    def _beam_step(self, force: int | None) -> Trace | None:
        config = self.config
        if force is not None:
            # commit the best beam plus the learner's token; the beam restarts from there
            context = self.context
            cum, num = self._totals()
            logprobs = self.model.next_logprobs(context)
            trace = decode_step(self.model, context, logprobs, config, self.num_generated,
                                len(self._root), cum, num, force,
                                processors=beam_processors(self.model, len(self._root),
                                                           config))
            trace.step = len(self._records)
            after = context.append(force)
            search = BeamSearch(self.model, self.prompt_ids, config, context=after,
                                generated_logprob=trace.cum_logprob,
                                first_step=len(self._records) + 1)
            self._beam = search
            self._records.append(_Record(trace, config, True, after, search.snapshot()))
            return trace
        search = self._beam_search()
        beam_trace = search.step_trace()
        if beam_trace is None:
            return None
        trace = beam_trace
        trace.step = len(self._records)
        best = search.best
        context = best.seq if best is not None else self._root
        self._records.append(_Record(trace, config, False, context, search.snapshot()))
        return trace

    # ------------------------------------------------------------------ saving and replaying
    def to_json(self) -> str:
        """The session as JSON: model, prompt, current config, and every step's config, choice,
        forced flag, number of generated tokens after it and trace summary (without the
        context, which the text gives: the file grows with the number of steps, not with its
        square). ``from_json`` replays it."""
        steps = []
        root = len(self._root)
        for record in self._records:
            trace = record.trace.to_dict(top_n=10, text=False)
            steps.append({
                "config": record.config.to_dict(),
                "choice": record.trace.chosen_id,
                "token": record.trace.chosen_token,
                "forced": record.forced,
                "length": len(record.context) - root,
                "trace": trace,
            })
        data = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "model": self.model.name,
            "backend": self.model.backend,
            "vocab_size": self.model.vocab_size,
            "prompt": self.model.tokenizer.decode(self.prompt_ids),
            "prompt_ids": list(self.prompt_ids),
            "config": self.config.to_dict(),
            **({} if self.draws == _draws.VERSION else {"draws": self.draws}),
            "steps": steps,
            "text": self.text,
            "generated_ids": self.generated_ids,
            "logprob": json_float(self.logprob),
            "perplexity": json_float(self.perplexity),
        }
        return json.dumps(data, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(
        cls,
        text: str,
        model_loader: Callable[[str], LanguageModel] | None = None,
        model: LanguageModel | None = None,
    ) -> Session:
        """Rebuild a saved session by replaying every step with its recorded config and forced
        choices; ReplayError (a ValueError) if the file is malformed or a choice differs."""
        if model is None and model_loader is None:
            raise ValueError("from_json needs model= or model_loader=")
        from arlm_tui.inputs import MAX_JSON_DEPTH, json_depth_problem

        if isinstance(text, str) and (line := json_depth_problem(text)) is not None:
            raise ReplayError(f"session file nests JSON more than {MAX_JSON_DEPTH} levels deep "
                              f"(line {line})")
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError, RecursionError) as exc:
            raise ReplayError(f"session file is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ReplayError(f"not an arlm session (expected \"format\": \"{FORMAT}\")")
        version = data.get("version", 1)
        if isinstance(version, bool) or version not in (1, 2):
            raise ReplayError(f"session format version {version!r} is not one this arlm reads "
                              f"(1 to {FORMAT_VERSION})")
        draws = data.get("draws", 1 if version == 1 else _draws.VERSION)
        if isinstance(draws, bool) or draws not in _draws.VERSIONS:
            raise ReplayError(f"session file: draws version {draws!r} is not one of "
                              f"{', '.join(map(str, _draws.VERSIONS))}")
        try:
            if model is None:
                assert model_loader is not None  # checked above: one of them is given
                model = model_loader(str(data["model"]))
            if int(data["vocab_size"]) != model.vocab_size:
                raise ReplayError(
                    f"session was saved with a vocabulary of {data['vocab_size']} tokens, "
                    f"model {model.name} has {model.vocab_size}"
                )
            session = cls(model, [int(i) for i in data["prompt_ids"]],
                          DecodingConfig.from_dict(data["config"]))
            session.draws = draws
            final_config = session.config
            steps = [
                (DecodingConfig.from_dict(s["config"]), bool(s["forced"]), int(s["choice"]),
                 int(s["length"]) if "length" in s else None,
                 [int(i) for i in s["generated_ids"]] if "generated_ids" in s else None)
                for s in data["steps"]
            ]
            final = data.get("generated_ids")
            final = None if final is None else [int(i) for i in final]
        except ReplayError:
            raise
        except (KeyError, TypeError) as exc:
            raise ReplayError(f"session file is missing or has a malformed field: {exc}") from None
        except ValueError as exc:
            raise ReplayError(f"session file: {exc}") from None
        for _ in _replay_steps(session, steps):
            pass
        if final is not None and session.generated_ids != final:
            raise ReplayError("replay: the text differs from the saved session's")
        session.config = final_config
        return session

    def replay(self) -> Iterator[Trace]:
        """Re-run this session's steps from the prompt in a fresh session, yielding each new
        Trace (identical choices; ReplayError if one differs). This session is not changed."""
        fresh = Session(self.model, self.prompt_ids, self.config)
        fresh.draws = self.draws
        root = len(self._root)
        steps: list[_Step] = [(r.config, r.forced, r.trace.chosen_id, len(r.context) - root,
                               None) for r in self._records]
        expected = self.context

        def run() -> Iterator[Trace]:
            yield from _replay_steps(fresh, steps)
            if fresh.context != expected:
                raise ReplayError("replay: the text differs from the session's")

        return run()


_Step = tuple[DecodingConfig, bool, int, "int | None", "list[int] | None"]


def _replay_steps(session: Session, steps: list[_Step]) -> Iterator[Trace]:
    """Take ``steps`` (config, forced, choice, generated length or None, generated ids or None:
    checked only when given, which costs a copy of the text) on ``session``."""
    for index, (config, forced, choice, length, generated) in enumerate(steps, start=1):
        session.config = config
        trace = session.force(choice) if forced else session.step()
        if (trace is None or trace.chosen_id != choice
                or length is not None and session.num_generated != length
                or generated is not None and session.generated_ids != generated):
            got = "nothing" if trace is None else repr(trace.chosen_token)
            want = session.model.vocab[choice] if 0 <= choice < session.model.vocab_size else choice
            raise ReplayError(f"replay step {index}: chose {got}, the saved session chose {want!r}")
        yield trace
