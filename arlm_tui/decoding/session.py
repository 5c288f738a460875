"""An interactive generation: step, undo, redo, force a token, change knobs, save and replay.

A ``Session`` holds a model, a prompt, the current ``DecodingConfig`` and the steps taken so far
(one ``Trace`` each). It keeps the model state for the text so far, so a step costs one
``model.extend``; when the text changes in another way (undo past a step, a strategy switch)
the state is rebuilt with ``model.start`` from the text, never reused wrongly.

Determinism: step i draws its randomness from (seed, i), so undo then step gives the same
token again, redo re-applies the undone step exactly, and ``from_json`` replays a saved session
with identical choices (raising ``ReplayError`` if a choice differs).

Beam strategy: each step advances all beams; the step's Trace carries the ``BeamStep`` and the
session's text is the best hypothesis (the most probable live beam while searching, the best
finished one when done). Forcing a token in beam mode commits the best beam plus that token and
restarts the beam from there.

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

from arlm_tui.decoding.beam import BeamSearch, BeamSnapshot, beam_processors
from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.processors import LogitsProcessor
from arlm_tui.decoding.strategies import as_prompt_ids, decode_step
from arlm_tui.decoding.trace import RunningScores, Trace, json_float
from arlm_tui.errors import ArlmError
from arlm_tui.lm.base import BOS, LanguageModel

FORMAT = "arlm-session"
FORMAT_VERSION = 1


class ReplayError(ArlmError, ValueError):
    """A saved session that cannot be read or does not replay to the same choices."""


@dataclass(frozen=True)
class _Record:
    """One step as taken: its trace, the config in force, and the generated ids after it."""

    trace: Trace
    config: DecodingConfig
    forced: bool
    generated: tuple[int, ...]
    beam: BeamSnapshot | None = None


@dataclass
class _Segment:
    """The part of a session's history with one model: its model, prompt and steps."""

    model: LanguageModel
    prompt_ids: list[int]
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
        self.config: DecodingConfig = config.replace(**knobs) if knobs else config
        self.model = model
        self.prompt_ids: list[int] = as_prompt_ids(model, prompt)
        self._records: list[_Record] = []
        # redo entries: an undone step, or (a _Segment) an undone model switch
        self._redo: list[_Record | _Segment] = []
        # the segments before each model switch, oldest first (see set_model)
        self._segments: list[_Segment] = []
        self._beam: BeamSearch | None = None
        # model state for exactly the ids in _state_ids, and the next-token log-probs after them
        self._state: Any = None
        self._state_ids: list[int] | None = None
        self._next_logprobs: np.ndarray | None = None
        self._processor_cache: tuple[DecodingConfig, int, list[LogitsProcessor], dict] | None = None

    # ------------------------------------------------------------------ what the text is
    @property
    def traces(self) -> list[Trace]:
        return [r.trace for r in self._records]

    @property
    def generated_ids(self) -> list[int]:
        """Ids generated after the prompt (``</s>`` included if the text ended)."""
        return list(self._records[-1].generated) if self._records else []

    @property
    def context_ids(self) -> list[int]:
        return self.prompt_ids + self.generated_ids

    def next_logprobs(self) -> np.ndarray:
        """The model's log-probs for the token after the text so far, from the session's model
        state (one ``extend`` at most), so a preview costs nothing the next step repeats."""
        return self._next_for(self.context_ids)

    @property
    def text(self) -> str:
        """Prompt and generated text, decoded (``</s>`` is not shown)."""
        return self.model.tokenizer.decode(self.context_ids)

    @property
    def finished(self) -> bool:
        """True if ``</s>`` ended the text."""
        generated = self._records[-1].generated if self._records else ()
        return bool(generated) and generated[-1] == self.model.eos_id

    @property
    def done(self) -> bool:
        """No further step: ``</s>`` was chosen, max_tokens reached, or the beam search ended."""
        if not self._records:
            return False
        last = self._records[-1]
        if last.beam is not None:
            return last.beam.done
        return self.finished or len(last.generated) >= self.config.max_tokens

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
        """Change knobs (validated); they apply from the next step."""
        self.config = self.config.replace(**knobs)

    def set_prompt(self, prompt: str | Sequence[int]) -> None:
        """A new prompt; the step history (model switches included) starts again."""
        self.prompt_ids = as_prompt_ids(self.model, prompt)
        self._segments.clear()
        self.reset()

    def set_model(self, model: LanguageModel) -> None:
        """Continue with another model: the text so far, re-encoded with its tokenizer, becomes
        the prompt. Undo past the switch returns to the earlier model and its steps."""
        prompt_ids = as_prompt_ids(model, self.text)
        self._segments.append(self._enter(_Segment(model, prompt_ids, [])))
        self._redo.clear()
        self._beam = None

    def _enter(self, segment: _Segment) -> _Segment:
        """Make ``segment`` the current one; return the one it replaces."""
        left = _Segment(self.model, self.prompt_ids, self._records)
        self.model, self.prompt_ids, self._records = (segment.model, segment.prompt_ids,
                                                      segment.records)
        self._state = self._state_ids = self._next_logprobs = None
        self._processor_cache = None
        return left

    def token_id(self, token: int | str) -> int:
        """The id of ``token``: an id, a vocabulary string, or text that encodes to one token."""
        vocab = self.model.vocab
        if isinstance(token, str):
            lookup = getattr(self.model.tokenizer, "token_to_id", None)
            if lookup is not None and token in lookup:
                token_id = lookup[token]
            else:
                ids = self.model.tokenizer.encode(token)
                if len(ids) != 1 or ids[0] == self.model.unk_id:
                    raise ArlmError(f"{token!r} is not a single token of {self.model.name}'s "
                                    f"vocabulary")
                token_id = ids[0]
        else:
            token_id = int(token)
            if not 0 <= token_id < len(vocab):
                raise ArlmError(f"token id {token_id} is outside the vocabulary "
                                f"(0 to {len(vocab) - 1})")
        # GPT-2-style vocabularies use one token for start and end: that one may be forced.
        if token_id == self.model.bos_id and self.model.bos_id != self.model.eos_id:
            raise ArlmError(f"{BOS} only marks the start of a text; it cannot be generated")
        return token_id

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

    def _next_for(self, context: list[int]) -> np.ndarray:
        """Next-token log-probs after ``context``: one extend if the state is one token behind,
        nothing if it is current, a fresh start otherwise."""
        ids = self._state_ids
        if self._state is not None and ids is not None and self._next_logprobs is not None:
            if ids == context:
                return self._next_logprobs
            if len(context) == len(ids) + 1 and context[:-1] == ids:
                logprobs, self._state = self.model.extend(self._state, [context[-1]])
                self._state_ids, self._next_logprobs = list(context), logprobs[0]
                return self._next_logprobs
        logprobs, self._state = self.model.start([context])
        self._state_ids, self._next_logprobs = list(context), logprobs[0]
        return self._next_logprobs

    def _processors(self, config: DecodingConfig) -> tuple[list[LogitsProcessor], dict]:
        key = (config, len(self.prompt_ids))
        cache = self._processor_cache
        if cache is None or (cache[0], cache[1]) != key:
            procs = config.processors(self.model.eos_id, len(self.prompt_ids))
            cache = self._processor_cache = (config, len(self.prompt_ids), procs,
                                             config.to_dict())
        return cache[2], cache[3]

    def _token_step(self, force: int | None) -> Trace:
        config = self.config
        generated = self.generated_ids
        context = self.prompt_ids + generated
        logprobs = self._next_for(context)
        cum, num = self._totals()
        processors, config_dict = self._processors(config)
        trace = decode_step(self.model, context, logprobs, config, len(generated),
                            len(self.prompt_ids), cum, num, force,
                            processors=processors, config_dict=config_dict)
        self._records.append(_Record(trace, config, force is not None,
                                     tuple(generated) + (trace.chosen_id,)))
        return trace

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
                                        generated_ids=self.generated_ids, generated_logprob=cum)
        self._beam.config = self.config
        return self._beam

    def _beam_step(self, force: int | None) -> Trace | None:
        config = self.config
        if force is not None:
            # commit the best beam plus the learner's token; the beam restarts from there
            generated = self.generated_ids
            context = self.prompt_ids + generated
            cum, num = self._totals()
            logprobs = self.model.next_logprobs(context)
            trace = decode_step(self.model, context, logprobs, config, len(generated),
                                len(self.prompt_ids), cum, num, force,
                                processors=beam_processors(self.model, len(self.prompt_ids),
                                                           config))
            trace.step = len(self._records)
            search = BeamSearch(self.model, self.prompt_ids, config,
                                generated_ids=generated + [force],
                                generated_logprob=trace.cum_logprob)
            self._beam = search
            self._records.append(_Record(trace, config, True, tuple(generated) + (force,),
                                         search.snapshot()))
            return trace
        search = self._beam_search()
        trace = search.step_trace()
        if trace is None:
            return None
        trace.step = len(self._records)
        best = search.best
        generated = tuple(best.ids) if best is not None else ()
        self._records.append(_Record(trace, config, False, generated, search.snapshot()))
        return trace

    # ------------------------------------------------------------------ saving and replaying
    def to_json(self) -> str:
        """The session as JSON: model, prompt, current config, and every step's config, choice,
        forced flag and trace summary. ``from_json`` replays it."""
        steps = []
        for record in self._records:
            steps.append({
                "config": record.config.to_dict(),
                "choice": record.trace.chosen_id,
                "token": record.trace.chosen_token,
                "forced": record.forced,
                "generated_ids": list(record.generated),
                "trace": record.trace.to_dict(top_n=10),
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
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ReplayError(f"session file is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ReplayError(f"not an arlm session (expected \"format\": \"{FORMAT}\")")
        try:
            if model is None:
                model = model_loader(str(data["model"]))
            if int(data["vocab_size"]) != model.vocab_size:
                raise ReplayError(
                    f"session was saved with a vocabulary of {data['vocab_size']} tokens, "
                    f"model {model.name} has {model.vocab_size}"
                )
            session = cls(model, [int(i) for i in data["prompt_ids"]],
                          DecodingConfig.from_dict(data["config"]))
            final_config = session.config
            steps = [
                (DecodingConfig.from_dict(s["config"]), bool(s["forced"]), int(s["choice"]),
                 [int(i) for i in s["generated_ids"]])
                for s in data["steps"]
            ]
        except ReplayError:
            raise
        except (KeyError, TypeError) as exc:
            raise ReplayError(f"session file is missing or has a malformed field: {exc}") from None
        except ValueError as exc:
            raise ReplayError(f"session file: {exc}") from None
        for _ in _replay_steps(session, steps):
            pass
        session.config = final_config
        return session

    def replay(self) -> Iterator[Trace]:
        """Re-run this session's steps from the prompt in a fresh session, yielding each new
        Trace (identical choices; ReplayError if one differs). This session is not changed."""
        fresh = Session(self.model, self.prompt_ids, self.config)
        steps = [(r.config, r.forced, r.trace.chosen_id, list(r.generated))
                 for r in self._records]
        return _replay_steps(fresh, steps)


def _replay_steps(
    session: Session, steps: list[tuple[DecodingConfig, bool, int, list[int]]]
) -> Iterator[Trace]:
    for index, (config, forced, choice, generated) in enumerate(steps, start=1):
        session.config = config
        trace = session.force(choice) if forced else session.step()
        if trace is None or trace.chosen_id != choice or session.generated_ids != generated:
            got = "nothing" if trace is None else repr(trace.chosen_token)
            want = session.model.vocab[choice] if 0 <= choice < session.model.vocab_size else choice
            raise ReplayError(f"replay step {index}: chose {got}, the saved session chose {want!r}")
        yield trace
