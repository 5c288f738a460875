"""The lines around the play screen's views, from a snapshot and explicit arguments (no App)."""

from __future__ import annotations

from arlm_tui.decoding.config import DecodingConfig
from arlm_tui.decoding.session import Session
from arlm_tui.decoding.snapshot import snapshot
from arlm_tui.lm.table import random_model
from arlm_tui.tui.play_lines import VIEWS, explain_line, stats_line, view_title


def session_after(steps: int, **knobs) -> Session:
    knobs.setdefault("min_tokens", 20)  # no </s> ends these texts
    session = Session(random_model(12, order=2, seed=4, concentration=0.6), "a",
                      DecodingConfig(strategy="sample", seed=3, **knobs))
    for _ in range(steps):
        session.step()
    return session


def test_the_title_says_which_token_is_live_and_adds_the_hint_only_where_it_fits():
    snap = snapshot(session_after(2))
    wide = view_title("bars", snap, force_mode=False, selected=None, room=80)
    assert wide == f"next-token bars: token 3, live [dim](1/{len(VIEWS)}, v: next view)[/dim]"
    bare = "next-token bars: token 3, live"
    assert view_title("bars", snap, force_mode=False, selected=None, room=len(bare) + 6) == (
        f"{bare} [dim](1/{len(VIEWS)})[/dim]")
    assert view_title("bars", snap, force_mode=False, selected=None, room=len(bare)) == bare
    assert view_title("beam", snap, force_mode=False, selected=None, room=20).startswith(
        "beam search: next expansion, live")
    assert view_title("bars", snap, force_mode=True, selected=None, room=20) == (
        "force the next token")


def test_a_past_step_title_shortens_to_the_room_it_has():
    snap = snapshot(session_after(3))
    long = view_title("bars", snap, force_mode=False, selected=0, room=200)
    assert long.startswith("next-token bars: step 1, past (of 3; esc: live)")
    assert view_title("bars", snap, force_mode=False, selected=0, room=29) == (
        "step 1 of 3, past (esc: live)")
    assert view_title("bars", snap, force_mode=False, selected=0, room=20) == (
        f"step 1, past [dim](1/{len(VIEWS)})[/dim]")
    assert view_title("bars", snap, force_mode=False, selected=1, room=34) == (
        "step 2, past (of 3; esc: live)")


def test_a_view_that_names_itself_keeps_its_own_title():
    title = view_title("samples", None, force_mode=False, selected=None, room=80,
                       own_title="sample N = 50")
    assert title.startswith("sample N = 50 [dim](4/")


def test_the_numbers_line_short_and_spelled_out():
    snap = snapshot(session_after(2))
    narrow, kept = stats_line(snap, wide=False, replay_total=None, autoplay=None)
    wide, _ = stats_line(snap, wide=True, replay_total=None, autoplay=1.5)
    assert narrow.plain.startswith("2 tokens · log p ") and "ppl " in narrow.plain
    assert "perplexity = " in wide.plain and "nats" in wide.plain
    assert wide.plain.endswith("▶ autoplay 1.5 s") and "autoplay" not in narrow.plain
    assert kept is None
    empty, _ = stats_line(snapshot(session_after(0)), wide=False, replay_total=None,
                          autoplay=None)
    assert empty.plain == "no token generated yet"


def test_the_replay_counts_up_then_says_once_that_it_is_finished():
    session = session_after(3)
    while session.undo():
        pass
    session.redo()
    line, kept = stats_line(snapshot(session), wide=False, replay_total=3, autoplay=None)
    assert line.plain.endswith("replay 1/3") and kept == 3
    session.redo()
    session.redo()
    line, kept = stats_line(snapshot(session), wide=False, replay_total=3, autoplay=None)
    assert line.plain.endswith("replay finished: space goes on from here") and kept is None
    line, _ = stats_line(snapshot(session), wide=False, replay_total=kept, autoplay=None)
    assert "replay" not in line.plain


def test_the_why_line_explains_the_step_or_says_what_to_do():
    snap = snapshot(session_after(1))
    why = explain_line(snap.traces[-1], snap, force_mode=False)
    assert why.plain.startswith("why: sampled ")
    assert explain_line(None, snap, force_mode=True).plain.startswith("force: ↑/↓ choose")
    start = snapshot(session_after(0))
    assert explain_line(None, start, force_mode=False).plain.startswith("space takes a step")
