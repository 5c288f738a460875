"""Lessons: the shipped lessons load and are complete, broken lessons report file:line, grading
works, and every number a lesson states is recomputed by the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lesson_helpers import GOOD_MD, GOOD_YAML, lessons_root, line_of, swap, write_lesson

from arlm_tui import paths
from arlm_tui.errors import ArlmError
from arlm_tui.learn import (
    FACT_KINDS,
    LAB_KINDS,
    Grade,
    LessonLoadError,
    Question,
    grade,
    load_lesson,
    load_lessons,
    parse_number,
)
from arlm_tui.learn.facts import _COMPUTERS, compute_fact
from arlm_tui.learn.lessons import LINK_PATTERN, lesson_links, table_of_contents

EXPECTED_IDS = [
    "01-generative-models",
    "02-chain-rule",
    "03-maximum-likelihood",
    "04-tokenization",
    "05-ngrams",
    "06-decoding",
    "07-feedforward-lm",
    "08-recurrent-networks",
    "09-lstm-gru",
    "10-causal-transformers",
]

SHIPPED = load_lessons()
ALL_FACTS = [(lesson.id, fact) for lesson in SHIPPED.lessons for fact in lesson.facts]


def _lesson_text(lesson) -> str:
    """Everything a learner can read in a lesson: body, questions, cards, lab intros."""
    parts = [lesson.body_markdown, lesson.summary]
    for q in lesson.questions:
        parts += [q.prompt, q.explanation, *q.choices]
        if q.kind == "text":
            parts += list(q.answer)
    parts += [text for card in lesson.cards for text in (card.front, card.back)]
    parts += [lab.intro for lab in lesson.labs]
    return "\n".join(parts)


# ---------------------------------------------------------------------------- shipped lessons
def test_shipped_lessons_all_load_in_order():
    assert [str(e) for e in SHIPPED.broken] == []
    assert [lesson.id for lesson in SHIPPED.lessons] == EXPECTED_IDS
    orders = [lesson.order for lesson in SHIPPED.lessons]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert SHIPPED.get("05-ngrams").title.startswith("n-gram")
    assert SHIPPED.get("99-missing") is None


@pytest.mark.parametrize("lesson", SHIPPED.lessons, ids=lambda lesson: lesson.id)
def test_shipped_lesson_is_complete(lesson):
    assert lesson.folder == paths.lessons_dir() / lesson.id
    assert len(lesson.questions) >= 5
    assert len(lesson.cards) >= 8
    assert len(lesson.labs) >= 1
    assert {q.kind for q in lesson.questions} == {"choice", "numeric", "text"}
    # lesson 10 holds the whole transformer block and the cache's costs: up to 2000 words
    assert 600 <= len(lesson.body_markdown.split()) <= 2000
    assert len(lesson.toc) >= 4 and "Summary" in lesson.toc
    assert lesson.body_markdown.startswith("# ")
    assert "$" not in lesson.body_markdown  # math is Unicode: no LaTeX delimiters
    for lab in lesson.labs:
        spec = LAB_KINDS[lab.kind]
        assert set(spec.required) <= set(lab.preset)
        assert set(lab.preset) <= set(spec.allowed)


def test_ids_are_unique_and_prerequisites_come_first():
    order_of = {lesson.id: lesson.order for lesson in SHIPPED.lessons}
    for lesson in SHIPPED.lessons:
        ids = [
            item.id
            for group in (lesson.questions, lesson.cards, lesson.labs, lesson.facts)
            for item in group
        ]
        assert len(ids) == len(set(ids)), lesson.id
        for prerequisite in lesson.prerequisites:
            assert order_of[prerequisite] < lesson.order, (lesson.id, prerequisite)


def test_every_lesson_link_resolves():
    known = {lesson.id for lesson in SHIPPED.lessons}
    found = 0
    for lesson in SHIPPED.lessons:
        for target in LINK_PATTERN.findall(_lesson_text(lesson)):
            found += 1
            assert target[0] in known, (lesson.id, target)
    assert found >= 10


def test_numeric_answers_with_facts_match_them():
    linked = 0
    for lesson in SHIPPED.lessons:
        for q in lesson.questions:
            if q.kind == "numeric" and q.fact:
                linked += 1
                assert grade(q, lesson.fact(q.fact).value).correct, (lesson.id, q.id)
    assert linked >= 10


@pytest.mark.parametrize(
    ("lesson_id", "fact"), ALL_FACTS, ids=[f"{lid}:{f.id}" for lid, f in ALL_FACTS]
)
def test_fact_is_recomputed_by_the_engine(lesson_id, fact):
    computed = compute_fact(fact)
    if fact.tolerance is None and fact.rel_tolerance is None:
        assert computed == pytest.approx(fact.value, rel=1e-6, abs=1e-12), (lesson_id, fact.id)
    else:
        slack = 1e-12 * max(1.0, abs(fact.value))
        ok = fact.tolerance is not None and abs(computed - fact.value) <= fact.tolerance + slack
        ok |= (
            fact.rel_tolerance is not None
            and abs(computed - fact.value) <= fact.rel_tolerance * abs(fact.value) + slack
        )
        assert ok, (lesson_id, fact.id, fact.value, computed)


@pytest.mark.parametrize(
    ("lesson_id", "fact"), ALL_FACTS, ids=[f"{lid}:{f.id}" for lid, f in ALL_FACTS]
)
def test_fact_is_stated_in_the_lesson(lesson_id, fact):
    assert fact.shown, f"{lesson_id}:{fact.id} should say where the lesson states it"
    assert fact.shown in _lesson_text(SHIPPED.get(lesson_id))


def test_facts_cover_every_kind_family():
    kinds = {fact.kind for _, fact in ALL_FACTS}
    assert {
        "ngram_prob",
        "sentence_prob",
        "chain_product",
        "nll",
        "perplexity",
        "entropy",
        "kl",
        "cross_entropy",
        "softmax_temperature",
        "top_p_kept",
        "ngram_param_count",
        "ffn_param_count",
    } <= kinds
    assert set(_COMPUTERS) == set(FACT_KINDS)


# ---------------------------------------------------------------------------- broken lessons
def test_the_template_lesson_is_valid(tmp_path):
    root = lessons_root(tmp_path)
    write_lesson(root, "50-test", GOOD_YAML.format(folder="50-test"))
    result = load_lessons(root)
    assert result.broken == []
    assert [lesson.id for lesson in result.lessons][-1] == "50-test"
    lesson = result.get("50-test")
    assert lesson.toc == ("Part one",)
    assert lesson.question("q2").fact == "f1"
    assert lesson.labs[0].preset == {"corpus": "toy", "order": 3, "smoothing": "mle"}


BROKEN_CASES = {
    # name: (edit of GOOD_YAML, where the error is: a line number or text on that line, message)
    "missing key": (
        lambda t: swap(t, "title: A test lesson\n", ""),
        "id: 50-test",
        "missing the key 'title'",
    ),
    "wrong type": (
        lambda t: swap(t, "order: 50", "order: fifty"),
        "order: fifty",
        "must be a whole number",
    ),
    "answer index out of range": (
        lambda t: swap(t, "answer: 1\n", "answer: 3\n"),
        "answer: 3",
        "answer index 3 is out of range",
    ),
    "duplicate id": (
        lambda t: swap(t, "  - id: q2", "  - id: q1"),
        line_of(GOOD_YAML, "  - id: q2"),
        "duplicate id 'q1'",
    ),
    "unknown lab kind": (
        lambda t: swap(t, "kind: trigram_table", "kind: trigram_tabel"),
        "trigram_tabel",
        "unknown lab kind 'trigram_tabel'",
    ),
    "missing preset key": (
        lambda t: swap(t, "      smoothing: mle\n", ""),
        "    preset:",
        "missing the key 'smoothing'",
    ),
    "bad preset value": (
        lambda t: swap(t, "smoothing: mle", "smoothing: magic"),
        "smoothing: magic",
        "must be one of mle",
    ),
    "playground knob outside its range": (  # checked by the decoding knob itself
        lambda t: swap(t, "    kind: trigram_table\n    title: Table\n    intro: Look at the "
                        "counts.\n    preset:\n      corpus: toy\n      order: 3\n"
                        "      smoothing: mle\n",
                        "    kind: decoding_playground\n    title: Table\n    intro: Look.\n"
                        "    preset:\n      logits: [1, 2]\n      top_p: 0\n"),
        "top_p: 0",
        "must be a number in (0, 1], got 0",
    ),
    "id not matching folder": (
        lambda t: swap(t, "id: 50-test", "id: 51-other"),
        "id: 51-other",
        "does not match the folder name '50-test'",
    ),
    "yaml syntax error": (
        lambda t: swap(t, "    prompt: Pick the second.", "    prompt: [Pick the second."),
        "    choices: [first",
        "YAML syntax error",
    ),
    "unknown prerequisite": (
        lambda t: swap(t, "[01-generative-models]", "[07-nowhere]"),
        "prerequisites:",
        "unknown prerequisite '07-nowhere'",
    ),
    "duplicate key": (
        lambda t: swap(t, "order: 50\n", "order: 50\norder: 51\n"),
        "order: 51",
        "duplicate key 'order'",
    ),
    "numeric without tolerance": (
        lambda t: swap(t, "    tolerance: 0.001\n", ""),
        "  - id: q2",
        "needs a 'tolerance' or a 'rel_tolerance'",
    ),
    "answer disagrees with its fact": (
        lambda t: swap(t, "answer: 0.03", "answer: 0.3"),
        "answer: 0.3",
        "differs from fact 'f1'",
    ),
    "unknown fact kind": (
        lambda t: swap(t, "kind: chain_product", "kind: chain_prod"),
        "kind: chain_prod",
        "unknown fact kind 'chain_prod'",
    ),
    "unknown question kind": (
        lambda t: swap(t, "kind: text", "kind: essay"),
        "kind: essay",
        "unknown question kind 'essay'",
    ),
    "unsafe yaml tag": (
        lambda t: swap(t, "      order: 3\n", "      order: !!python/object/apply:os.getcwd []\n"),
        "os.getcwd",
        "unreadable value",
    ),
    "unquoted yes/no/on/off token": (
        lambda t: swap(
            t,
            "    kind: trigram_table\n    title: Table\n    intro: Look at the counts.\n"
            "    preset:\n      corpus: toy\n      order: 3\n      smoothing: mle\n",
            "    kind: causal_mask\n    title: Mask\n    intro: Look at the mask.\n"
            "    preset:\n      length: 4\n      tokens: [the, cat, sat, on]\n",
        ),
        "      tokens: [the, cat, sat, on]",
        "quote True",
    ),
    "choices on a text question": (
        lambda t: swap(
            t,
            "    answer: [beam search, beam]",
            "    choices: [a, b]\n    answer: [beam search, beam]",
        ),
        "    choices: [a, b]",
        "'choices' is only for choice questions",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_CASES))
def test_broken_lesson_reports_file_line_and_others_still_load(tmp_path, case):
    edit, marker, message = BROKEN_CASES[case]
    root = lessons_root(tmp_path)
    text = edit(GOOD_YAML.format(folder="50-test"))
    folder = write_lesson(root, "50-test", text)
    result = load_lessons(root)
    assert [lesson.id for lesson in result.lessons] == EXPECTED_IDS
    assert len(result.broken) == 1
    error = result.broken[0]
    assert error.folder == folder and error.file == folder / "lesson.yaml"
    expected_line = marker if isinstance(marker, int) else line_of(text, marker)
    assert error.line == expected_line, str(error)
    assert message in error.message
    assert str(error).startswith(f"{folder / 'lesson.yaml'}:{error.line}: ")
    assert "\n" not in str(error)


def test_missing_files_and_bad_links_are_reported(tmp_path):
    root = lessons_root(tmp_path)
    write_lesson(root, "50-no-md", GOOD_YAML.format(folder="50-no-md"), md_text=None)
    write_lesson(root, "51-no-yaml", None)
    bad_md = GOOD_MD + "\nSee [later](lesson:77-unwritten).\n"
    write_lesson(root, "52-bad-link", GOOD_YAML.format(folder="52-bad-link"), md_text=bad_md)
    write_lesson(root, "53-empty", "")
    (root / "notes").mkdir()  # not a lesson folder name: ignored
    result = load_lessons(root)
    assert [lesson.id for lesson in result.lessons] == EXPECTED_IDS
    errors = {e.folder.name: e for e in result.broken}
    assert set(errors) == {"50-no-md", "51-no-yaml", "52-bad-link", "53-empty"}
    assert errors["50-no-md"].file.name == "lesson.md" and "missing lesson.md" in str(
        errors["50-no-md"]
    )
    assert errors["51-no-yaml"].message == "missing lesson.yaml"
    link_error = errors["52-bad-link"]
    assert link_error.file.name == "lesson.md"
    assert link_error.line == line_of(bad_md, "77-unwritten")
    assert "lesson:77-unwritten" in link_error.message
    assert errors["53-empty"].message == "the file is empty"


def test_load_lesson_raises_an_arlm_error(tmp_path):
    folder = write_lesson(
        tmp_path,
        "50-test",
        GOOD_YAML.format(folder="50-test").replace("answer: 1\n", "answer: 9\n"),
    )
    with pytest.raises(LessonLoadError) as info:
        load_lesson(folder)
    assert isinstance(info.value, ArlmError)
    assert str(info.value) == str(info.value.error)
    assert info.value.line == info.value.error.line
    with pytest.raises(ArlmError, match="lessons directory not found"):
        load_lessons(tmp_path / "nowhere")


def test_table_of_contents_and_links_skip_code():
    text = "# T\n\n## One\n\n```text\n## not a heading\n```\n\n## Two ##\n[x](lesson:02-a)\n"
    assert table_of_contents(text) == ("One", "Two")
    assert lesson_links(text) == [("02-a", 10)]


# ---------------------------------------------------------------------------- grading
CHOICE = Question("q", "choice", "Pick", 1, "because", choices=("greedy", "Beam search", "top-k"))
NUMERIC = Question("n", "numeric", "p?", 0.03, "multiply", tolerance=0.001)
RELATIVE = Question("r", "numeric", "count?", 6469408.0, "add", rel_tolerance=0.001)
TEXT = Question("t", "text", "name?", ("beam search", "beam"), "it keeps B hypotheses")


def test_grade_choice():
    assert grade(CHOICE, 1) == Grade(True, "Beam search", "because")
    assert not grade(CHOICE, 0).correct and grade(CHOICE, 0).readable
    assert grade(CHOICE, "b").correct and grade(CHOICE, "B").correct
    assert grade(CHOICE, "  beam   SEARCH ").correct
    assert not grade(CHOICE, "a").correct
    for unreadable in (7, -1, True, "z", "something else"):
        verdict = grade(CHOICE, unreadable)
        assert not verdict.correct and not verdict.readable


@pytest.mark.parametrize(
    "response", ["0.03", "3e-2", "3/100", "0.03 nats", "3%", " ≈ 0.0305", "0,03", 0.03, 0.0309]
)
def test_grade_numeric_accepts(response):
    verdict = grade(NUMERIC, response)
    assert verdict.correct and verdict.expected == "0.03" and verdict.explanation == "multiply"


@pytest.mark.parametrize("response", ["0.3", "1/3", "0.0312", 0.05, "-0.03"])
def test_grade_numeric_rejects(response):
    verdict = grade(NUMERIC, response)
    assert not verdict.correct and verdict.readable


@pytest.mark.parametrize("response", ["", "abc", "1/0", "nats", True])
def test_grade_numeric_unreadable(response):
    verdict = grade(NUMERIC, response)
    assert not verdict.correct and not verdict.readable


def test_grade_numeric_relative_tolerance_and_thousands():
    assert grade(RELATIVE, "6,469,408").correct
    assert grade(RELATIVE, "6.47e6").correct
    assert not grade(RELATIVE, "6.5e6").correct
    assert grade(RELATIVE, 1).expected == "6469408"


def test_grade_text():
    assert grade(TEXT, "Beam Search").correct
    assert grade(TEXT, "  beam-search. ").correct
    assert grade(TEXT, "BEAM").correct
    assert not grade(TEXT, "greedy").correct
    assert grade(TEXT, "greedy").expected == "beam search"
    assert not grade(TEXT, "   ").readable


def test_parse_number():
    assert parse_number("2.81 nats") == pytest.approx(2.81)
    assert parse_number("1/3") == pytest.approx(1 / 3)
    assert parse_number("−0.5") == -0.5
    assert parse_number("8,300,500") == 8300500
    assert parse_number("1,5") == 1.5
    assert parse_number("nan") is None and parse_number("1e999") is None


# ---------------------------------------------------------------------------- compute_fact
def test_information_identities_hold_for_random_distributions():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
        h = compute_fact({"kind": "entropy", "probs": list(p)})
        ce = compute_fact({"kind": "cross_entropy", "p": list(p), "q": list(q)})
        kl = compute_fact({"kind": "kl", "p": list(p), "q": list(q)})
        assert ce == pytest.approx(h + kl) and kl >= 0
        bits = compute_fact({"kind": "entropy", "probs": list(p), "unit": "bits"})
        assert bits == pytest.approx(h / math.log(2))
        conditionals = list(rng.uniform(0.05, 1, size=4))
        nll = compute_fact({"kind": "nll", "conditionals": conditionals})
        product = compute_fact({"kind": "chain_product", "conditionals": conditionals})
        perplexity = compute_fact({"kind": "perplexity", "conditionals": conditionals})
        assert nll == pytest.approx(-math.log(product))
        assert perplexity == pytest.approx(math.exp(nll / 4))


def test_ngram_facts_use_the_toy_corpus_model():
    toy = {"corpus": "toy", "order": 3, "smoothing": "mle"}
    assert compute_fact({"kind": "ngram_prob", **toy, "context": "<s> <s>", "token": "i"}) == (
        pytest.approx(2 / 3)
    )
    assert compute_fact({"kind": "ngram_prob", **toy, "context": "", "token": "cats"}) == (
        pytest.approx(1 / 3)
    )
    assert compute_fact({"kind": "ngram_prob", **toy, "context": "i love", "token": "dogs"}) == (
        pytest.approx(0.5)
    )
    assert compute_fact({"kind": "sentence_prob", **toy, "sentence": "i love mice"}) == 0
    smoothed = {**toy, "smoothing": "addk", "sentence": "i love mice"}
    probability = compute_fact({"kind": "sentence_prob", **smoothed})
    nll = compute_fact({"kind": "sentence_nll", **smoothed})
    assert 0 < probability < 1 and nll == pytest.approx(-math.log(probability))


def test_compute_fact_rejects_bad_requests():
    with pytest.raises(ValueError, match="compute kind must be one of"):
        compute_fact({"kind": "magic"})
    with pytest.raises(ValueError, match="needs p"):
        compute_fact({"kind": "kl", "q": [1.0]})
    with pytest.raises(ValueError, match="index"):
        compute_fact(
            {"kind": "softmax_temperature", "logits": [1, 2], "temperature": 1, "index": 5}
        )
    with pytest.raises(ValueError, match="token"):
        compute_fact(
            {
                "kind": "ngram_prob",
                "corpus": "toy",
                "order": 2,
                "smoothing": "mle",
                "context": "i",
                "token": "love cats",
            }
        )


def test_the_transformer_lesson_describes_the_bundled_model():
    """Lesson 10 counts the parameters of the bundled oracle-transformer from its dimensions;
    those dimensions and that count are the installed model's own."""
    from arlm_tui.lm.registry import load_model

    model = load_model("oracle-transformer")
    config = model.net.config
    assert (config.d_model, config.layers, config.context, config.vocab_size) == (128, 4, 1024, 219)
    lesson = SHIPPED.get("10-causal-transformers")
    stated = lesson.fact("f_total_params").value
    assert sum(p.numel() for p in model.net.parameters()) == stated
    assert "weight tying" in " ".join(lesson.body_markdown.split())


@pytest.mark.parametrize("loader", ["libyaml", "python"])
def test_deeply_nested_yaml_is_one_line_and_others_still_load(tmp_path, monkeypatch, loader):
    import yaml

    import arlm_tui.learn.lessons.loader as lesson_loader

    if loader == "python":  # PyYAML without libyaml has no nesting limit of its own
        monkeypatch.setattr(lesson_loader, "_SAFE_LOADER", yaml.SafeLoader)
    root = lessons_root(tmp_path)
    text = GOOD_YAML.format(folder="50-test") + "deep: " + "[" * 20000 + "]" * 20000 + "\n"
    folder = write_lesson(root, "50-test", text)
    result = load_lessons(root)
    assert [lesson.id for lesson in result.lessons] == EXPECTED_IDS
    assert len(result.broken) == 1 and result.broken[0].folder == folder
    message = str(result.broken[0])
    assert "nest" in message and "\n" not in message
