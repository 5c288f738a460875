"""The lines the play screen writes around its views: the views' titles, the why-line, the
running numbers. Each is a function of a snapshot and explicit arguments (no widget, no
screen), so what a line says can be read and tested on its own.
"""

from __future__ import annotations

import math

from rich.text import Text

from arlm_tui.decoding.snapshot import PlaySnapshot
from arlm_tui.decoding.trace import Trace
from arlm_tui.numbers import fmt_nats

#: Views of the main area: (id, title, key).
VIEWS: tuple[tuple[str, str, str], ...] = (
    ("bars", "next-token bars", "1"),
    ("beam", "beam search", "2"),
    ("compare", "compare models", "3"),
    ("samples", "sample N", "4"),
    ("attention", "attention", "5"),
    ("speculative", "speculative decoding", "6"),
)
VIEW_IDS = tuple(v[0] for v in VIEWS)
VIEW_TITLES = {v[0]: v[1] for v in VIEWS}


def view_title(view: str, snap: PlaySnapshot | None, *, force_mode: bool, selected: int | None,
               room: int, own_title: str | None = None) -> str:
    """The title over the views: what ``view`` shows (``own_title`` for a view that names
    itself, e.g. "sample N = 20"), for the bars and the beam which step (live or past), then the
    view's number and the v hint as far as they fit in ``room`` columns."""
    title = own_title if own_title is not None else VIEW_TITLES[view]
    if view in ("bars", "beam") and snap is not None:
        if force_mode:
            title = "force the next token"
        elif selected is not None:
            k, n = selected + 1, len(snap.traces)
            title = next((text for text in (f"{title}: step {k}, past (of {n}; esc: live)",
                                            f"step {k}, past (of {n}; esc: live)",
                                            f"step {k} of {n}, past (esc: live)")
                          if len(text) <= room), f"step {k}, past")
        elif snap.done:
            title = f"{title}: the text is finished"
        elif view == "beam":
            title = f"{title}: next expansion, live"
        else:
            title = f"{title}: token {len(snap.pieces) + 1}, live"
    number = VIEW_IDS.index(view) + 1
    # the view's own title first; the view number and the v hint only as far as they fit
    plain = Text.from_markup(title).cell_len
    for hint in (f"({number}/{len(VIEWS)}, v: next view)", f"({number}/{len(VIEWS)})"):
        if plain + 1 + len(hint) <= room:
            return f"{title} [dim]{hint}[/dim]"
    return title


def explain_line(shown: Trace | None, snap: PlaySnapshot, *, force_mode: bool) -> Text:
    """The line under the views: how to force a token, why the ``shown`` step chose its token,
    or (before the first step) the keys to start with."""
    from arlm_tui.decoding.explain import explain

    if force_mode:
        return Text("force: ↑/↓ choose a token in the bars, ⏎ takes it, esc cancels (F types "
                    "one instead)", style="bold")
    if shown is not None:
        line = Text("why: ", style="bold")
        line.append(explain(shown))
        return line
    if snap.done:
        return Text("")
    return Text("space takes a step · f forces a token · ←/→ turn the selected knob · ? lists "
                "every key", style="dim")


def stats_line(snap: PlaySnapshot, *, wide: bool, replay_total: int | None,
               autoplay: float | None) -> tuple[Text, int | None]:
    """The running numbers (tokens, log p, NLL, perplexity, bits per token), how the text
    ended, the replay's progress and autoplay's pace (``autoplay``: seconds a step, None when
    paused); ``wide`` spells them out. Also returns ``replay_total`` as it is to be kept: None
    once the replay is finished (the line says so once)."""
    parts = []
    if snap.num_tokens:
        parts.append(f"{snap.num_tokens} token" + ("s" if snap.num_tokens != 1 else ""))
        logprob, nll = fmt_nats(snap.logprob), fmt_nats(snap.nll)
        parts.append(f"log p = {logprob}" if wide else f"log p {logprob}")
        parts.append(f"NLL = {nll} nats" if wide else f"NLL {nll}")
        if math.isfinite(snap.perplexity):
            parts.append(f"perplexity = {snap.perplexity:.2f}" if wide
                         else f"ppl {snap.perplexity:.2f}")
            parts.append(f"{snap.bits_per_token:.2f} bits/token" if wide
                         else f"{snap.bits_per_token:.2f} bits/tok")
        else:
            parts.append("perplexity = ∞")
    else:
        parts.append("no token generated yet")
    if snap.finished:
        parts.append("ended with </s>")
    elif snap.stopped_by is not None:
        parts.append(f"stopped at the stop string {snap.stopped_by!r}")
    elif snap.done:
        parts.append("done")
    if replay_total is not None and (snap.can_redo or not snap.traces):
        parts.append(f"replay {len(snap.traces)}/{replay_total}")
    elif replay_total is not None:
        parts.append("replay finished: space goes on from here")
        replay_total = None
    elif snap.can_redo:
        parts.append("r redoes")
    if autoplay is not None:
        parts.append(f"▶ autoplay {autoplay:g} s")
    return Text(" · ".join(parts)), replay_total
