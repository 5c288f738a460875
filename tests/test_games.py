"""The games' engine: determinism for a seed, scoring, puzzles checked by exact search, targets
that can be met, and progression (xp, levels, achievements, streak) kept in the store."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from arlm_tui.decoding import DecodingConfig, exact_search, generate_ids
from arlm_tui.errors import ArlmError
from arlm_tui.games import GAMES, be_the_model, beat_greedy, name_that_strategy, progression
from arlm_tui.games import tune_the_knobs as ttk
from arlm_tui.games.common import (
    STORY_TRIGRAM,
    GameResult,
    MissingModelError,
    distinct_n,
    load_game_model,
    repeated_ngram,
    repetition_rate,
    story_trigram,
)
from arlm_tui.learn.store import Store

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "progress.sqlite3") as s:
        yield s


def oracle_round(seed: int, **kw) -> be_the_model.BeTheModelRound:
    return be_the_model.BeTheModelRound("oracle", seed, **kw)


# --------------------------------------------------------------------------- shared measures
def test_diversity_numbers():
    assert distinct_n([[1, 2, 3, 4]], 1) == 1.0
    assert distinct_n([[1, 2, 1, 2, 1, 2]], 2) == pytest.approx(2 / 5)
    assert distinct_n([[5, 6], [5, 6]], 2) == 0.5  # pooled over texts
    assert distinct_n([[1]], 2) == 0.0
    assert repetition_rate([[1, 2, 1, 1]]) == 0.5
    assert repetition_rate([[1, 2], [1, 2]]) == 0.0  # counted within each text
    assert repeated_ngram([7, 1, 2, 3, 9, 1, 2, 3]) == (1, 2, 3)
    assert repeated_ngram([1, 2, 3, 4]) is None
    with pytest.raises(ValueError, match="n must be"):
        distinct_n([[1]], 0)


def test_missing_model_is_one_clear_line():
    with pytest.raises(MissingModelError) as info:
        load_game_model("no-such-model", "Tune the knobs")
    message = str(info.value)
    assert "Tune the knobs" in message and "no-such-model" in message
    assert "not installed" in message and "\n" not in message
    with pytest.raises(ArlmError, match="oracle gives probability zero"):
        load_game_model("oracle", "Name that strategy")
    assert load_game_model(None, "x") is story_trigram()
    assert load_game_model(STORY_TRIGRAM, "x").name == STORY_TRIGRAM


# --------------------------------------------------------------------------- be the model
def test_bets_are_distributions_with_a_floor():
    r = oracle_round(0)
    n = r.outcomes
    assert n == len(r.tokenizer.vocab) - 3  # every word, no specials
    for text in ("the:5 a:3 ,:2", "she 70%", "the", "the:2", ".:1 ,:1 then:1 a:1 the:1"):
        bet = r.parse(text)
        total = sum(bet.probability(i, n) for i in r.eligible)
        assert total == pytest.approx(1.0, abs=1e-12), text
    full = r.parse("the:6 a:4")
    miss = next(i for i in r.eligible if i not in full.masses)
    assert full.probability(miss, n) == pytest.approx(be_the_model.FLOOR_MASS / n)
    the = r.tokenizer.token_to_id["the"]
    assert full.probability(the, n) == pytest.approx(
        (1 - be_the_model.FLOOR_MASS) * 0.6 + be_the_model.FLOOR_MASS / n)
    confident = r.parse("the 70%")
    assert confident.masses == {the: pytest.approx(0.7)}
    assert r.parse("The:70%").masses == confident.masses
    assert r.parse("the").masses == {the: 1.0}


@pytest.mark.parametrize("text, reason", [
    ("", "type up to"),
    ("a:1 b:1 c:1 d:1 e:1 f:1", "at most 5"),
    ("the:6 a:5", "add up to 11"),
    ("the:0", "at least one point"),
    ("qwertyuiop:3", "not a word"),
    ("the:3 the:2", "twice"),
    ("the 0%", "above 0%"),
    ("the 3", "give each word its points"),
])
def test_bad_bets_are_refused_with_a_reason(text, reason):
    r = oracle_round(0)
    with pytest.raises(be_the_model.BetError, match=reason):
        r.parse(text)


def test_round_is_deterministic_for_a_seed():
    a, b = oracle_round(5), oracle_round(5)
    assert a.tokens == b.tokens and a.start == b.start and a.context_text == b.context_text
    others = {(tuple(oracle_round(s).tokens), oracle_round(s).start) for s in range(6, 10)}
    assert len(others) > 1
    for r in (a, oracle_round(11)):
        assert r.start >= be_the_model.MIN_CONTEXT
        targets = r.tokens[r.start:r.start + r.length]
        assert len(targets) == r.length and r.tokenizer.unk_id not in targets


def test_scoring_matches_log_loss_and_the_models():
    r = oracle_round(3)
    n = r.outcomes
    losses = []
    for k in range(r.length):
        truth = r.positions[k].target
        word = r.tokenizer.token_text(truth)
        wrong = "a" if word != "a" else "the"
        text = f"{word}:10" if k % 2 == 0 else f"{wrong}:10"  # a hit, then a miss, ...
        reveal = r.guess(text)
        assert reveal.truth_id == truth
        expected = (1 - be_the_model.FLOOR_MASS) + be_the_model.FLOOR_MASS / n if k % 2 == 0 \
            else be_the_model.FLOOR_MASS / n
        assert reveal.probability == pytest.approx(expected)
        assert reveal.loss == pytest.approx(-math.log(expected))
        losses.append(reveal.loss)
        # the oracle's probability of the truth is its exact next-token probability
        oracle = r.contenders[0].model
        p = math.exp(oracle.next_logprobs(r.positions[k].context)[truth])
        assert dict(reveal.model_probabilities)["oracle"] == pytest.approx(p)
        assert reveal.entropy is not None and reveal.entropy >= -1e-12
    assert r.done
    assert r.cross_entropy == pytest.approx(sum(losses) / len(losses))
    rows = {row.name: row for row in r.scores()}
    assert rows["you"].perplexity == pytest.approx(math.exp(sum(losses) / len(losses)))
    trigram = story_trigram()
    nll = -sum(float(trigram.next_logprobs(p.context)[p.target]) for p in r.positions)
    assert rows[STORY_TRIGRAM].cross_entropy == pytest.approx(nll / r.length)
    assert "entropy floor" in rows
    with pytest.raises(ValueError, match="over"):
        r.guess("the")


def test_a_perfect_player_beats_every_model_and_earns_xp():
    r = oracle_round(4)
    while not r.done:
        r.guess(r.tokenizer.token_text(r.positions[r.index].target))
    result = r.result()
    models = [c for c in r.contenders if c.role == "model"]
    assert result.details["beat_all"] and result.details["beat_ngram"]
    assert set(result.details["beat"]) == {c.name for c in models}
    assert result.xp == 10 + 5 * len(models)
    expected = result.details["expected"]
    assert {"you", "oracle", "entropy floor"} <= set(expected)
    assert min(expected.values()) == expected["entropy floor"]
    assert result.score == pytest.approx(r.perplexity)
    # betting everything on the truth costs -log(0.95 + 0.05/N) a word
    n = r.outcomes
    assert r.cross_entropy == pytest.approx(-math.log(0.95 + 0.05 / n))


def test_pyref_round_uses_the_bundled_model_tokens():
    from arlm_tui.games.common import pyref_heldout

    r = be_the_model.BeTheModelRound("pyref", 2, length=4)
    assert [c.name for c in r.contenders] == [be_the_model.PYREF_MODEL]
    assert any(list(r.tokenizer.encode(s)) == r.tokens for s in pyref_heldout())
    reveal = r.guess("the:10")
    assert reveal.entropy is None  # no oracle for real text: no floor
    assert [row.kind for row in r.scores()].count("floor") == 0


# --------------------------------------------------------------------------- name that strategy
def test_name_that_strategy_is_deterministic_and_gradable():
    model = story_trigram()
    a = name_that_strategy.NameThatStrategyPuzzle(model, 7)
    b = name_that_strategy.NameThatStrategyPuzzle(model, 7)
    assert [c.ids for c in a.continuations] == [c.ids for c in b.continuations]
    assert a.solution == b.solution
    assert len({tuple(c.ids) for c in a.continuations}) == 3
    assert sorted(c.strategy.family for c in a.continuations) == sorted(
        name_that_strategy.FAMILIES)
    right = a.grade(a.solution)
    assert right.score == 3
    swapped = dict(a.solution)
    swapped["A"], swapped["B"] = swapped["B"], swapped["A"]
    wrong = a.grade(swapped)
    assert wrong.score == 1 and wrong.correct["C"] and not wrong.correct["A"]
    result = a.result(right)
    assert result.score == 3 and result.xp == 20 and result.details["all_correct"]
    assert a.result(wrong).xp == 5
    with pytest.raises(ValueError, match="each of A, B, C"):
        a.grade({"A": "greedy"})


def test_strategy_signs_are_measured():
    model = story_trigram()
    puzzle = name_that_strategy.NameThatStrategyPuzzle(model, 2)
    for c in puzzle.continuations:
        nll = name_that_strategy.generated_nll(model, puzzle.prompt_ids, c.ids)
        direct, context = 0.0, list(puzzle.prompt_ids)
        for token in c.ids:
            direct -= float(model.next_logprobs(context)[token])
            context.append(token)
        assert nll == pytest.approx(direct)
        assert c.mean_nll == pytest.approx(direct / len(c.ids))
        body = [t for t in c.ids if t != model.eos_id]
        assert c.distinct_2 == pytest.approx(distinct_n([body], 2))
        text = puzzle.explain(c)
        assert c.strategy.label in text and f"{c.mean_nll:.2f}" in text
    lowest = min(puzzle.continuations, key=lambda c: c.mean_nll)
    assert "the lowest of the three" in puzzle.explain(lowest)
    # greedy's text is its own arg-max chain, so regenerating it gives the same ids
    for c in puzzle.continuations:
        if c.strategy.id == "greedy":
            again = generate_ids(model, puzzle.prompt_ids,
                                 DecodingConfig(strategy="greedy",
                                                max_tokens=name_that_strategy.MAX_TOKENS))
            assert again.ids == c.ids


def test_prompts_come_from_heldout_text_or_start_from_nothing():
    from arlm_tui.games.common import heldout_prompt
    from arlm_tui.lm.table import random_model

    trigram = story_trigram()
    prompt = heldout_prompt(trigram, 3, 5)
    assert len(prompt) == 5 and trigram.unk_id not in prompt
    assert heldout_prompt(trigram, 3, 5) == prompt and heldout_prompt(trigram, 4, 5) != prompt
    stranger = random_model(12, order=2, seed=1)  # words w3 ... w11: no held-out text fits
    assert heldout_prompt(stranger, 3, 5) == []
    puzzle = name_that_strategy.NameThatStrategyPuzzle(stranger, 3)
    assert puzzle.prompt_ids == [] and puzzle.prompt_text == ""
    assert puzzle.grade(puzzle.solution).score == 3


def test_a_looping_text_is_called_out():
    model = story_trigram()
    for seed in range(40):
        puzzle = name_that_strategy.NameThatStrategyPuzzle(model, seed)
        loops = [c for c in puzzle.continuations if c.repeated is not None]
        if loops:
            c = loops[0]
            assert f'"{c.repeated}" comes back' in puzzle.explain(c)
            assert len(model.tokenizer.encode(c.repeated)) >= name_that_strategy.LOOP_TOKENS
            return
    pytest.fail("no puzzle in 40 seeds had a looping text")


# --------------------------------------------------------------------------- beat greedy
@pytest.mark.parametrize("seed", range(12))
def test_greedy_is_provably_not_optimal(seed):
    puzzle = beat_greedy.BeatGreedyPuzzle(seed)
    model = puzzle.model
    ranked = exact_search(model, [], max_tokens=beat_greedy.HORIZON, length_penalty=0.0)
    assert len(ranked) == beat_greedy.WORDS ** beat_greedy.HORIZON
    # every sentence has HORIZON words and their probabilities add up to one
    assert all(len(ids) == beat_greedy.HORIZON for ids, _ in ranked)
    assert sum(math.exp(score) for _, score in ranked) == pytest.approx(1.0)
    best_ids, best_logprob = ranked[0]
    assert puzzle.best.ids == tuple(best_ids)
    assert puzzle.best.logprob == pytest.approx(best_logprob)
    # greedy = the arg-max at every step
    context: list[int] = []
    for _ in range(beat_greedy.HORIZON):
        context.append(int(np.argmax(model.next_logprobs(context))))
    assert puzzle.greedy.ids == tuple(context)
    assert best_logprob >= puzzle.greedy.logprob + math.log(beat_greedy.MIN_RATIO) - 1e-12
    assert puzzle.greedy.ids != puzzle.best.ids
    for beam in puzzle.beams:
        assert puzzle.greedy.logprob - 1e-12 <= beam.logprob <= best_logprob + 1e-12
    assert puzzle.rank_of(puzzle.best.ids) == 1


def test_beat_greedy_play_and_score():
    puzzle = beat_greedy.BeatGreedyPuzzle(3)
    again = beat_greedy.BeatGreedyPuzzle(3)
    assert again.words == puzzle.words and again.best == puzzle.best
    game = beat_greedy.BeatGreedyGame(puzzle)
    choices = game.choices()
    assert [c[2] for c in choices] == sorted((c[2] for c in choices), reverse=True)
    assert sum(c[2] for c in choices) == pytest.approx(1.0)
    for token in puzzle.best.ids:
        game.choose(token)
    assert game.done and game.score() == 3
    assert game.logprob == pytest.approx(puzzle.best.logprob)
    result = game.result()
    assert result.xp == 20 and result.details["optimal"] and result.details["rank"] == 1
    with pytest.raises(ValueError, match="already has"):
        game.choose(puzzle.best.ids[0])

    tie = beat_greedy.BeatGreedyGame(puzzle)
    for token in puzzle.greedy.ids:
        tie.choose(token)
    assert tie.score() == 1 and not tie.result().details["beat_greedy"]
    assert tie.undo() and not tie.done and len(tie.ids) == beat_greedy.HORIZON - 1
    with pytest.raises(ValueError, match="token_id"):
        tie.choose(puzzle.model.eos_id)
    worst = beat_greedy.BeatGreedyGame(puzzle)
    for token in puzzle.ranked[-1][0]:
        worst.choose(token)
    assert worst.score() == 0 and worst.result().xp == 5


# --------------------------------------------------------------------------- tune the knobs
def test_targets_are_reachable_and_not_free():
    model = story_trigram()
    challenge = ttk.TuneTheKnobsChallenge(model, 1)
    same = ttk.TuneTheKnobsChallenge(model, 1)
    assert same.target == challenge.target and same.reference == challenge.reference
    default = ttk.run_samples(model, challenge.prompt_ids, ttk.Setting(),
                              seed=challenge.sample_seed)
    assert not challenge.target.met(default)
    first = challenge.run(ttk.Setting())
    assert not first.met and not challenge.solved
    assert first.measurement == default  # the same knobs always draw the same samples
    second = challenge.run(challenge.reference)
    assert second.met and challenge.solved and challenge.tries == 2
    result = challenge.result()
    assert result.score == 2 and result.xp == 25 and not result.details["first_try"]
    with pytest.raises(ValueError, match="over"):
        challenge.run(ttk.Setting())


def test_measurement_numbers():
    model = story_trigram()
    prompt = model.tokenizer.encode("one day, a")
    m = ttk.run_samples(model, prompt, ttk.Setting(temperature=0.8, top_p=0.9), seed=4,
                        samples=5)
    bodies, nll, count = [], 0.0, 0
    for i in range(5):
        r = generate_ids(model, prompt, DecodingConfig(strategy="sample", temperature=0.8,
                                                       top_p=0.9, max_tokens=ttk.MAX_TOKENS,
                                                       seed=4 + i))
        bodies.append([t for t in r.ids if t != model.eos_id])
        nll -= r.logprob
        count += len(r.ids)
    assert m.distinct_2 == pytest.approx(distinct_n(bodies, 2))
    assert m.mean_nll == pytest.approx(nll / count) and m.tokens == count
    hot = ttk.run_samples(model, prompt, ttk.Setting(temperature=1.7), seed=4, samples=5)
    cold = ttk.run_samples(model, prompt, ttk.Setting(temperature=0.5), seed=4, samples=5)
    assert hot.mean_nll > cold.mean_nll  # the trade-off the game is about


def test_settings_are_validated_and_giving_up_is_recorded():
    with pytest.raises(ValueError, match="top_p"):
        ttk.Setting(top_p=1.3)
    with pytest.raises(ValueError, match="temperature"):
        ttk.Setting(temperature=0)
    challenge = ttk.TuneTheKnobsChallenge(story_trigram(), 2)
    challenge.give_up()
    result = challenge.result()
    assert result.score is None and result.xp == 2 and not result.details["solved"]
    assert "T=" in result.details["reference"]
    text = challenge.target.text
    assert text.endswith(f"over {ttk.SAMPLES} samples") and ("≥" in text or "between" in text)


# --------------------------------------------------------------------------- progression
def test_levels():
    assert [progression.xp_for_level(level) for level in (1, 2, 3, 4)] == [0, 50, 150, 300]
    assert progression.level_for(0) == 1 and progression.level_for(49) == 1
    assert progression.level_for(50) == 2 and progression.level_for(149) == 2
    assert progression.level_for(10_000) == 20
    assert progression.level_title(1) == "unigram" and progression.level_title(99)
    with pytest.raises(ValueError, match="level"):
        progression.xp_for_level(0)


def test_streaks():
    d = NOW.date()
    days = {d, d - timedelta(days=1), d - timedelta(days=2), d - timedelta(days=5)}
    assert progression.streaks(days, d) == (3, 3)
    # nothing yet today: yesterday's streak is still alive
    assert progression.streaks(days - {d}, d) == (2, 2)
    assert progression.streaks({d - timedelta(days=3)}, d) == (0, 1)
    assert progression.streaks(set(), d) == (0, 0)


def _result(game: str, score: float, xp: int, **details) -> GameResult:
    return GameResult(game, 0, score, xp, f"{game} {score}", details)


def test_record_game_xp_and_achievements_once(store):
    new = progression.record_game(store, _result("beat-greedy", 3, 20, beat_greedy=True,
                                                 optimal=True), now=NOW, lesson_ids=[])
    assert {a.id for a in new} == {"first-round", "beat-greedy", "optimal"}
    again = progression.record_game(store, _result("beat-greedy", 2, 15, beat_greedy=True),
                                    now=NOW, lesson_ids=[])
    assert again == []  # an achievement is unlocked once
    p = progression.progress(store, now=NOW, lesson_ids=[])
    assert p.xp == 20 + 15 + 3 * progression.ACHIEVEMENT_XP
    stats = {g.game: g for g in p.games}
    assert stats["beat-greedy"].played == 2 and stats["beat-greedy"].best == 3
    assert stats["beat-greedy"].last == "beat-greedy 2"
    assert stats["be-the-model"].played == 0
    unlocked = {a.id for a, when in p.achievements if when is not None}
    assert unlocked == {"first-round", "beat-greedy", "optimal"}
    assert p.level == progression.level_for(p.xp) and p.streak == 1 and p.active_today


def test_lower_is_better_games_keep_their_lowest_score(store):
    for ppl in (40.0, 25.0, 60.0):
        progression.record_game(store, _result("be-the-model", ppl, 10), now=NOW,
                                lesson_ids=[])
    stats = {g.game: g for g in progression.progress(store, now=NOW, lesson_ids=[]).games}
    assert stats["be-the-model"].best == 25.0


def test_xp_and_streak_count_lessons_reviews_and_answers(store):
    two_days_ago = NOW - timedelta(days=2)
    store.record_review("card-1", 3, fsrs_card="{}", due=NOW, content_hash="h",
                        reviewed_at=two_days_ago)
    store.record_attempt("01-generative-models", "q1", "b", True,
                         now=NOW - timedelta(days=1))
    store.record_attempt("01-generative-models", "q2", "a", False, now=NOW)
    store.mark_lesson_step("01-generative-models", "intro", now=NOW)
    store.mark_lesson_completed("01-generative-models", now=NOW)
    p = progression.progress(store, now=NOW, lesson_ids=["01-generative-models", "02-x"])
    sources = p.xp_sources
    assert sources["reviews"] == progression.XP_PER_REVIEW
    assert sources["answers"] == 2 * progression.XP_PER_ANSWER + progression.XP_PER_CORRECT
    assert sources["lessons"] == progression.XP_PER_LESSON_STEP + progression.XP_PER_LESSON
    assert p.streak == 3 and p.best_streak == 3
    new = progression.unlock_achievements(store, now=NOW,
                                          lesson_ids=["01-generative-models", "02-x"])
    assert {a.id for a in new} == {"streak-3", "lesson-1"}


def test_reading_a_lesson_step_keeps_the_streak_alive(store):
    lesson = "01-generative-models"
    store.record_attempt(lesson, "q1", "b", True, now=NOW - timedelta(days=2))
    store.mark_lesson_step(lesson, "intro", now=NOW - timedelta(days=1))
    store.mark_lesson_step(lesson, "bigrams", now=NOW)
    p = progression.progress(store, now=NOW, lesson_ids=[lesson])
    assert p.streak == 3 and p.best_streak == 3 and p.active_today
    # a step of a lesson that is not among the lessons counted does not count either
    store.mark_lesson_step("99-gone", "intro", now=NOW + timedelta(days=1))
    later = progression.progress(store, now=NOW + timedelta(days=1), lesson_ids=[lesson])
    assert later.streak == 3 and not later.active_today
    # without the step read yesterday, the streak would be broken
    only = progression.progress(store, now=NOW, lesson_ids=["02-x"])
    assert only.streak == 0 and only.best_streak == 1


def test_progress_survives_a_crash(tmp_path):
    db = tmp_path / "progress.sqlite3"
    script = (
        "import os, sys\n"
        "from arlm_tui.learn.store import Store\n"
        "from arlm_tui.games import progression\n"
        "from arlm_tui.games.beat_greedy import BeatGreedyGame, BeatGreedyPuzzle\n"
        "store = Store.open(sys.argv[1])\n"
        "game = BeatGreedyGame(BeatGreedyPuzzle(0))\n"
        "for token in game.puzzle.best.ids: game.choose(token)\n"
        "progression.record_game(store, game.result(), lesson_ids=[])\n"
        "os._exit(9)  # killed: no close, no clean-up\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    with Store.open(db) as store:
        assert store.notice is None
        p = progression.progress(store, lesson_ids=[])
        stats = {g.game: g for g in p.games}
        assert stats["beat-greedy"].played == 1 and stats["beat-greedy"].best == 3
        assert p.xp == 20 + 3 * progression.ACHIEVEMENT_XP


def test_summary_line(store):
    assert progression.summary_line(store, now=NOW).startswith("level 1 (unigram) · 0 xp")
    progression.record_game(store, _result("tune-the-knobs", 1, 30, first_try=True), now=NOW)
    line = progression.summary_line(store, now=NOW)
    assert "1 round played" in line and "streak 1 day" in line


# --------------------------------------------------------------------------- the command
def _parser():
    from arlm_tui.cli import games as cli_games

    parser = argparse.ArgumentParser(prog="arlm")
    cli_games.register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_list_and_json(capsys):
    args = _parser().parse_args(["games", "--list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    for game in GAMES:
        assert game.id in out and game.title in out
    args = _parser().parse_args(["games", "--list", "--json"])
    assert args.func(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["level"] == 1 and [g["id"] for g in data["games"]] == [g.id for g in GAMES]
    assert all(a["unlocked"] is None for a in data["achievements"])


@pytest.mark.parametrize("argv, message", [
    (["games", "--seed", "-1"], "--seed -1"),
    (["games", "tune-the-knobs", "--model", "no-such-model", "--list"], "not installed"),
    (["games", "beat-greedy", "--model", STORY_TRIGRAM], "--model applies to"),
    (["games", "--json"], "--json goes with --list"),
])
def test_cli_mistakes_are_one_line(argv, message):
    args = _parser().parse_args(argv)
    with pytest.raises(ArlmError, match=message.replace("-", "\\-")):
        args.func(args)


def test_cli_rejects_unknown_game():
    with pytest.raises(SystemExit):
        _parser().parse_args(["games", "chess"])


@pytest.mark.parametrize("argv, mode", [
    (["games"], {"game": None, "seed": None, "model": None, "source": "oracle"}),
    (["games", "tune-the-knobs", "--seed", "4", "--model", STORY_TRIGRAM],
     {"game": "tune-the-knobs", "seed": 4, "model": STORY_TRIGRAM, "source": "oracle"}),
    (["games", "be-the-model", "--source", "pyref"],
     {"game": "be-the-model", "seed": None, "model": None, "source": "pyref"}),
])
def test_arlm_games_opens_the_one_app_in_games_mode(monkeypatch, argv, mode):
    from arlm_tui.cli import main
    from arlm_tui.tui import app

    opened = []
    monkeypatch.setattr(app, "run_app", lambda initial, **options: opened.append(
        (initial, options)) or 0)
    assert main(argv) == 0
    assert opened == [("games", mode)]


def test_games_engine_never_imports_textual():
    code = (
        "import sys\n"
        "import arlm_tui.games, arlm_tui.games.progression, arlm_tui.cli.games\n"
        "from arlm_tui.games.beat_greedy import BeatGreedyPuzzle\n"
        "BeatGreedyPuzzle(0)\n"
        "assert 'textual' not in sys.modules, 'textual imported'\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- be the model: the floor
@pytest.mark.parametrize("seed", [0, 3, 7])
def test_ranking_by_expected_loss_respects_the_entropy_floor(seed):
    r = oracle_round(seed)
    while not r.done:
        r.guess("the:4 a:3 .:3")
    rows = r.scores()
    assert rows[0].kind == "you"
    ranked = rows[1:]
    assert ranked[0].kind == "floor"
    floor = ranked[0].expected
    assert [row.expected for row in ranked] == sorted(row.expected for row in ranked)
    for row in rows:
        # H(p̃, q) = H(p̃) + KL(p̃ ‖ q) >= H(p̃), step by step, so also on average
        assert row.expected >= floor - 1e-9, row
    # the expected loss is the mean over steps of −Σ p̃ log q, recomputed here by hand
    oracle = r.contenders[0].model
    steps = []
    for position in r.positions:
        p = np.exp(oracle.next_logprobs(position.context))
        keep = np.zeros_like(p)
        keep[list(r.eligible)] = 1
        p = p * keep / np.sum(p * keep)
        q = np.exp(oracle.next_logprobs(position.context))
        steps.append(-np.sum(p[p > 0] * np.log(q[p > 0])))
    assert next(row for row in rows if row.kind == "oracle").expected == pytest.approx(
        np.mean(steps))
    you = rows[0]
    q = r.bet_distribution(r.bets[0])
    assert q.sum() == pytest.approx(1.0)
    assert you.expected > floor


def test_a_realised_loss_can_dip_below_the_floor_but_the_expected_one_cannot():
    """Over many stories, some model's realised loss falls below the floor by chance; its
    expected loss never does."""
    dipped = 0
    for seed in range(12):
        r = oracle_round(seed)
        while not r.done:
            r.guess("the")
        rows = r.scores()
        floor = next(row for row in rows if row.kind == "floor").expected
        for row in rows:
            if row.kind in ("oracle", "model"):
                dipped += row.cross_entropy < floor
                assert row.expected >= floor - 1e-9
    assert dipped > 0


@pytest.mark.parametrize(
    ("bet", "message"),
    [("the:-3 a:5", "cannot be negative"), ("the:-1", "cannot be negative"),
     ("the:2.5", "whole numbers"), ("the:x", "give each word its points")],
)
def test_odd_point_values_get_a_message_that_makes_sense(bet, message):
    r = oracle_round(1)
    with pytest.raises(be_the_model.BetError, match=message):
        r.parse(bet)


# --------------------------------------------------------------------------- name that strategy: answers
def test_name_that_strategy_explanations_agree_with_their_numbers():
    import re

    model = story_trigram()
    seen_ranks = set()
    for seed in range(10):
        puzzle = name_that_strategy.NameThatStrategyPuzzle(model, seed)
        texts = puzzle.continuations
        for c in texts:
            words = puzzle.explain(c)
            shown = round(c.mean_nll, 2)
            others = sorted(round(o.mean_nll, 2) for o in texts if o is not c)
            # the numbers quoted are the text's own and the other two's
            quoted = [float(x) for x in re.findall(r"(\d+\.\d\d)(?= nats/token| and|\))",
                                                   words)]
            assert quoted[0] == shown and sorted(quoted[1:3]) == others, words
            rank = name_that_strategy.nll_rank(c, texts)
            seen_ranks.add(rank)
            if shown < min(others):
                assert rank == "lowest" and "the lowest of the three" in words
            elif shown > max(others):
                assert rank == "highest" and "the highest of the three" in words
            elif shown in others:
                assert rank == "tied" and "level with another text" in words
            else:
                assert rank == "middle" and "the middle of the three" in words
            # a tendency is only called what happened when the numbers say so
            expected = name_that_strategy.EXPECTED_RANK[c.strategy.family]
            assert ("usually gives the" in words) == (rank != expected)
            assert "least coherent" not in words
            assert ("it loops" in words) == (c.repeated is not None)
    assert {"lowest", "highest"} <= seen_ranks


def test_every_score_is_shown_with_its_unit():
    from arlm_tui.games import score_text

    assert score_text("be-the-model", 12.345) == "perplexity 12.3"
    assert score_text("name-that-strategy", 2.0) == "2/3 named"
    assert score_text("beat-greedy", 3.0) == "3/3: the best sentence"
    assert score_text("beat-greedy", 1.0) == "1/3: tied greedy"
    assert score_text("tune-the-knobs", 1.0) == "1 try"
    assert score_text("tune-the-knobs", 4.0) == "4 tries"
    for game in GAMES:
        assert score_text(game.id, 2.0) != "2"
