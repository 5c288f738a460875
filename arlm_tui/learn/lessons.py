"""Lessons: load and validate ``lessons/NN-slug/`` folders, and grade quiz answers.

A lesson is a folder ``NN-slug`` holding ``lesson.md`` (the text; ``##`` headings form its table
of contents; links to other lessons are written ``[text](lesson:03-maximum-likelihood)``) and
``lesson.yaml`` (metadata, questions, flashcards, labs and facts)::

    id: 05-ngrams                  # must equal the folder name
    title: n-gram models
    order: 5
    summary: one sentence
    prerequisites: [04-tokenization]
    questions:                     # kind: choice | numeric | text
      - {id: q1, kind: choice, prompt: ..., choices: [a, b], answer: 1, explanation: ...}
      - {id: q2, kind: numeric, prompt: ..., answer: 0.06, tolerance: 0.001, explanation: ...,
         fact: f1}                 # optional: the fact whose value is the answer
      - {id: q3, kind: text, prompt: ..., answer: [greedy, "greedy {search|decoding}"],
         explanation: ...}         # first answer shown as is; [optional] and {a|b} in the others
    cards: [{id: c1, front: ..., back: ...}]
    labs: [{id: lab1, kind: trigram_table, title: ..., intro: ..., preset: {...}}]
    facts:                         # numbers the lesson states that the engine can recompute
      - {id: f1, value: 0.06, shown: "0.06", compute: {kind: chain_product, conditionals: [...]}}

The YAML is read with ``yaml.SafeLoader`` as a node tree, so that every problem is reported as
``file:line: what is wrong``. A broken lesson is listed in ``LessonSet.broken`` and never stops
the other lessons from loading. The fact kinds, with the compute keys each one needs, are kept
below as data (``FACT_KINDS``); the lab kinds register themselves in ``arlm_tui.learn.labs``
(``LAB_KINDS``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from arlm_tui import paths
from arlm_tui.decoding.config import PLAYGROUND_KNOBS, Knob
from arlm_tui.errors import ArlmError
from arlm_tui.learn.grading import (  # noqa: F401  (re-exported: the grading API lived here)
    PATTERN_CHARACTERS,
    Grade,
    accepted_forms,
    expand_answer,
    format_number,
    grade,
    is_number_text,
    normalize_text,
    parse_number,
    precision_hint,
)
from arlm_tui.learn.grading import close as _close

#: libyaml's safe loader when PyYAML has it (the same node tree with line marks, ~10× faster
#: than the pure-Python one, which took ~0.5 s for the shipped lessons)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

LESSON_FILE = "lesson.md"
META_FILE = "lesson.yaml"
#: A lesson folder is named like ``05-ngrams``; anything else in the lessons directory is ignored.
FOLDER_PATTERN = re.compile(r"^\d{2}-[a-z0-9]+(?:-[a-z0-9]+)*$")
#: ``[text](lesson:05-ngrams)`` or ``[text](lesson:05-ngrams#counting)``.
LINK_PATTERN = re.compile(r"\]\(lesson:([^)#\s]*)(#[^)\s]*)?\)")
QUESTION_KINDS = ("choice", "numeric", "text")
SMOOTHINGS = ("mle", "addk", "interp", "stupid", "kn")
CELLS = ("rnn", "lstm", "gru")
UNITS = ("nats", "bits")


# ---------------------------------------------------------------------------- the registries
@dataclass(frozen=True)
class KindSpec:
    """The keys a lab preset or a fact's ``compute`` mapping must / may have.

    ``one_of`` lists alternative key groups: the mapping must hold every key of at least one.
    """

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    description: str = ""

    @property
    def allowed(self) -> tuple[str, ...]:
        group_keys = tuple(k for group in self.one_of for k in group)
        return self.required + group_keys + self.optional


_NGRAM_KEYS = ("corpus", "order", "smoothing")
FACT_KINDS: dict[str, KindSpec] = {
    "ngram_prob": KindSpec(
        _NGRAM_KEYS + ("context", "token"),
        ("k",),
        description="p(token | context) under the n-gram model of `corpus`",
    ),
    "sentence_prob": KindSpec(
        _NGRAM_KEYS + ("sentence",),
        ("k",),
        description="probability of `sentence` followed by </s> under the n-gram model",
    ),
    "sentence_nll": KindSpec(
        _NGRAM_KEYS + ("sentence",),
        ("k",),
        description="−ln of sentence_prob",
    ),
    "chain_product": KindSpec(("conditionals",), description="∏ conditionals"),
    "nll": KindSpec(
        ("conditionals",),
        ("unit", "per_token"),
        description="−Σ ln conditionals (bits with unit: bits; divided by N with per_token)",
    ),
    "perplexity": KindSpec(("conditionals",), description="exp(−(1/N) Σ ln conditionals)"),
    "entropy": KindSpec(("probs",), ("unit",), description="H(p) = −Σ p ln p"),
    "kl": KindSpec(("p", "q"), ("unit",), description="KL(p ‖ q) = Σ p ln(p / q)"),
    "cross_entropy": KindSpec(("p", "q"), ("unit",), description="H(p, q) = −Σ p ln q"),
    "softmax_temperature": KindSpec(
        ("logits", "temperature", "index"),
        description="softmax(logits / temperature)[index]",
    ),
    "top_p_kept": KindSpec(("probs", "p"), description="how many tokens top-p keeps"),
    "power_temperature": KindSpec(
        ("probs", "temperature", "index"),
        description="p_index^(1/T) / Σ_j p_j^(1/T): temperature applied to probabilities",
    ),
    "repetition_penalty": KindSpec(
        ("logits", "seen", "penalty", "index"),
        description="softmax after the CTRL repetition penalty on the `seen` token indices",
    ),
    "length_normalized": KindSpec(
        ("conditionals", "alpha"),
        description="beam score ln p / L^α of a finished hypothesis whose L tokens have the "
        "probabilities `conditionals` (decoding.beam.length_normalized)",
    ),
    "continuation_prob": KindSpec(
        ("corpus", "token"),
        description="Kneser–Ney's p_cont(token) = |{v : c(v, token) > 0}| / distinct bigrams, "
        "from the count table of the bigram model of `corpus`",
    ),
    "transformer_param_count": KindSpec(
        ("V", "d", "layers", "positions"),
        ("part",),
        description="parameters of the engine's transformer (lm.neural.transformer), counted on "
        "a freshly built net: part 'total' (default, tied output), 'blocks' or 'block'",
    ),
    "kv_step_macs": KindSpec(
        ("layers", "d", "t"),
        description="multiply-adds of one cached decoding step at position t: "
        "layers · (12d² + 2td)",
    ),
    "kv_cache_floats": KindSpec(
        ("layers", "d", "T"),
        description="numbers the KV cache holds for T positions, measured on the engine's "
        "KVPool: 2 · layers · T · d",
    ),
    "recurrent_param_count": KindSpec(
        ("cell", "d", "m"),
        ("biases",),
        description="parameters of one rnn/gru/lstm layer, input size d, m units; biases: "
        "'one' per block (the lecture's count) or 'torch' (two per block, as nn.RNN/GRU/LSTM)",
    ),
    "ngram_param_count": KindSpec(("V", "n"), description="V^(n−1) · (V − 1)"),
    "ffn_param_count": KindSpec(
        ("V", "d", "n", "h"),
        description="V·d + h·(n−1)·d + h + V·h + V (embeddings, hidden layer, output layer)",
    ),
}


# ---------------------------------------------------------------------------- the data
@dataclass(frozen=True)
class Question:
    """A quiz question. ``answer``: an index (choice), a number (numeric) or accepted strings."""

    id: str
    kind: str
    prompt: str
    answer: int | float | tuple[str, ...]
    explanation: str
    choices: tuple[str, ...] = ()
    tolerance: float | None = None
    rel_tolerance: float | None = None
    fact: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Card:
    """A flashcard."""

    id: str
    front: str
    back: str
    line: int = 0


@dataclass(frozen=True)
class Lab:
    """An interactive lab: a registered ``kind`` and the parameters it starts with."""

    id: str
    kind: str
    title: str
    intro: str
    preset: Mapping[str, Any]
    line: int = 0


@dataclass(frozen=True)
class Fact:
    """A number the lesson states, with the recipe (``compute``) the engine recomputes it by."""

    id: str
    value: float
    compute: Mapping[str, Any]
    tolerance: float | None = None
    rel_tolerance: float | None = None
    shown: str | None = None
    line: int = 0

    @property
    def kind(self) -> str:
        return str(self.compute["kind"])


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    order: int
    summary: str
    prerequisites: tuple[str, ...]
    body_markdown: str
    toc: tuple[str, ...]
    questions: tuple[Question, ...]
    cards: tuple[Card, ...]
    labs: tuple[Lab, ...]
    facts: tuple[Fact, ...]
    folder: Path

    def question(self, question_id: str) -> Question:
        return _by_id(self.questions, question_id, "question")

    def fact(self, fact_id: str) -> Fact:
        return _by_id(self.facts, fact_id, "fact")


@dataclass(frozen=True)
class LessonError:
    """Why one lesson folder could not be loaded: ``file:line: message``."""

    folder: Path
    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else f"{self.file}"
        return f"{where}: {self.message}"


@dataclass
class LessonSet:
    """Every lesson that loaded (ordered by ``order``) and every folder that did not."""

    lessons: list[Lesson] = field(default_factory=list)
    broken: list[LessonError] = field(default_factory=list)

    def get(self, lesson_id: str) -> Lesson | None:
        return next((lesson for lesson in self.lessons if lesson.id == lesson_id), None)

    def __iter__(self) -> Iterator[Lesson]:
        return iter(self.lessons)

    def __len__(self) -> int:
        return len(self.lessons)


class LessonLoadError(ArlmError):
    """A lesson folder that cannot be used; ``.error`` holds the structured LessonError."""

    def __init__(self, error: LessonError):
        super().__init__(error.message, path=error.file, line=error.line)
        self.error = error


def _by_id(items: Iterable[Any], item_id: str, what: str) -> Any:
    for item in items:
        if item.id == item_id:
            return item
    raise KeyError(f"no {what} with id {item_id!r}")


# ---------------------------------------------------------------------------- loading
def load_lessons(root: str | Path | None = None) -> LessonSet:
    """Load every ``NN-slug`` folder under ``root`` (default: the shipped lessons)."""
    root = Path(root) if root is not None else paths.lessons_dir()
    if not root.is_dir():
        raise ArlmError("lessons directory not found", path=root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and FOLDER_PATTERN.match(p.name))
    known_ids = {p.name for p in folders}
    result = LessonSet()
    for folder in folders:
        try:
            result.lessons.append(load_lesson(folder, known_ids=known_ids))
        except LessonLoadError as exc:
            result.broken.append(exc.error)
    result.lessons.sort(key=lambda lesson: (lesson.order, lesson.id))
    return result


def load_lesson(folder: str | Path, *, known_ids: Iterable[str] | None = None) -> Lesson:
    """Load and validate one lesson folder; raise ``LessonLoadError`` (file:line) if broken.

    ``known_ids``: the lesson ids that exist, against which prerequisites and ``lesson:`` links
    are checked (None skips those checks)."""
    folder = Path(folder)
    meta_path, body_path = folder / META_FILE, folder / LESSON_FILE
    current = meta_path

    def fail(line: int | None, message: str) -> LessonLoadError:
        return LessonLoadError(LessonError(folder, current, line, message))

    if not meta_path.is_file():
        raise fail(None, f"missing {META_FILE}")
    from arlm_tui import inputs
    from arlm_tui.errors import ArlmError

    try:  # a regular file within the size limit
        meta_text = inputs.read_text(meta_path, limit=inputs.LIMITS["lesson"], what="lesson file")
    except ArlmError as exc:
        raise fail(None, f"cannot read the file ({str(exc).removeprefix(f'{meta_path}: ')})") from None
    try:
        root_node = yaml.compose(meta_text, Loader=_SAFE_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise fail(line, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise fail(None, f"YAML error: {exc}") from None
    if root_node is None:
        raise fail(1, "the file is empty")
    try:
        lesson, link_lines = _read_meta(root_node, folder)
    except _Problem as problem:
        raise fail(problem.line, problem.message) from None

    current = body_path
    if not body_path.is_file():
        raise fail(None, f"missing {LESSON_FILE}")
    try:
        body = body_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(None, f"cannot read the file ({exc})") from None
    if not body.strip():
        raise fail(1, "the lesson text is empty")
    lesson = replace(lesson, body_markdown=body, toc=table_of_contents(body))

    if known_ids is not None:
        known = set(known_ids)
        for target, line in lesson_links(body):
            if target not in known:
                raise fail(line, f"link to unknown lesson 'lesson:{target}'")
        current = meta_path
        for target, line in link_lines:
            if target not in known:
                raise fail(line, f"link to unknown lesson 'lesson:{target}'")
        for prerequisite, line in _prerequisite_lines(root_node):
            if prerequisite not in known:
                raise fail(line, f"unknown prerequisite '{prerequisite}'")
    return lesson


def table_of_contents(markdown: str) -> tuple[str, ...]:
    """The ``##`` headings of a Markdown text, in order (fenced code blocks skipped)."""
    headings, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            headings.append(line[3:].strip().rstrip("#").strip())
    return tuple(headings)


def lesson_links(text: str) -> list[tuple[str, int]]:
    """Every ``lesson:`` link target in ``text`` with its 1-based line number."""
    return [
        (match.group(1), number)
        for number, line in enumerate(text.splitlines(), start=1)
        for match in LINK_PATTERN.finditer(line)
    ]


def _prerequisite_lines(root_node: Node) -> list[tuple[str, int]]:
    """Each listed prerequisite with its line (for the unknown-prerequisite message)."""
    if not isinstance(root_node, MappingNode):
        return []
    for key, value in root_node.value:
        is_prerequisites = isinstance(key, ScalarNode) and key.value == "prerequisites"
        if is_prerequisites and isinstance(value, SequenceNode):
            return [(str(item.value), _line(item)) for item in value.value]
    return []


# ---------------------------------------------------------------------------- YAML node reading
class _Problem(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag.endswith(":null"):
        return "empty"
    return repr(node.value)


def _construct(node: Node) -> Any:
    """The plain Python value of a node; tags outside safe YAML (``!!python/...``) are refused."""
    try:
        return SafeConstructor().construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise _Problem(_line(node), f"unreadable value: {problem}") from None


def _mapping(node: Node, what: str) -> dict[str, tuple[Node, Node]]:
    if not isinstance(node, MappingNode):
        raise _Problem(_line(node), f"{what} must be a mapping of keys, not {_describe(node)}")
    entries: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            raise _Problem(_line(key_node), f"a key in {what} must be a plain word")
        key = str(key_node.value)
        if key in entries:
            raise _Problem(_line(key_node), f"duplicate key '{key}' in {what}")
        entries[key] = (key_node, value_node)
    return entries


def _fields(
    node: Node,
    what: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    line: int | None = None,
) -> dict[str, Node]:
    """The value nodes of a mapping with exactly these keys; ``line`` is reported when a
    required key is missing (default: the mapping's first line)."""
    entries = _mapping(node, what)
    allowed = tuple(required) + tuple(optional)
    for key, (key_node, _) in entries.items():
        if key not in allowed:
            raise _Problem(
                _line(key_node), f"unknown key '{key}' in {what} (allowed: {', '.join(allowed)})"
            )
    for key in required:
        if key not in entries:
            raise _Problem(line or _line(node), f"{what} is missing the key '{key}'")
    return {key: value for key, (_, value) in entries.items()}


def _key_line(mapping: Node, key: str) -> int:
    """The line of ``key:`` in a mapping (where a nested block starts for the reader)."""
    for key_node, _ in mapping.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return _line(key_node)
    return _line(mapping)


def _text(node: Node, what: str) -> str:
    if not isinstance(node, ScalarNode) or node.tag.endswith(":null"):
        raise _Problem(_line(node), f"{what} must be text, not {_describe(node)}")
    text = str(node.value).strip()
    if not text:
        raise _Problem(_line(node), f"{what} is empty")
    return text


def _int(node: Node, what: str, minimum: int | None = None) -> int:
    value = _construct(node) if isinstance(node, ScalarNode) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Problem(_line(node), f"{what} must be a whole number, not {_describe(node)}")
    if minimum is not None and value < minimum:
        raise _Problem(_line(node), f"{what} must be at least {minimum}, not {value}")
    return value


def _number(node: Node, what: str) -> float:
    value = _construct(node) if isinstance(node, ScalarNode) else None
    number = as_number(value)
    if number is None:
        raise _Problem(_line(node), f"{what} must be a number, not {_describe(node)}")
    return number


def _list(node: Node, what: str) -> list[Node]:
    if not isinstance(node, SequenceNode):
        raise _Problem(_line(node), f"{what} must be a list, not {_describe(node)}")
    return list(node.value)


def _unique_id(node: Node, what: str, seen: dict[str, int]) -> str:
    item_id = _text(node, f"the id of {what}")
    if item_id in seen:
        raise _Problem(
            _line(node), f"duplicate id '{item_id}' (first used on line {seen[item_id]})"
        )
    seen[item_id] = _line(node)
    return item_id


_TOP_REQUIRED = ("id", "title", "order", "summary", "questions", "cards", "labs")
_TOP_OPTIONAL = ("prerequisites", "facts")


def _read_meta(root: Node, folder: Path) -> tuple[Lesson, list[tuple[str, int]]]:
    top = _fields(root, "the lesson", _TOP_REQUIRED, _TOP_OPTIONAL)
    lesson_id = _text(top["id"], "id")
    if lesson_id != folder.name:
        raise _Problem(
            _line(top["id"]), f"id '{lesson_id}' does not match the folder name '{folder.name}'"
        )
    prerequisites: list[str] = []
    if "prerequisites" in top:
        for item in _list(top["prerequisites"], "prerequisites"):
            name = _text(item, "a prerequisite")
            if name == lesson_id:
                raise _Problem(_line(item), "a lesson cannot be its own prerequisite")
            prerequisites.append(name)
    seen: dict[str, int] = {}  # ids are unique across questions, cards, labs and facts
    facts = (
        tuple(_read_fact(node, seen) for node in _list(top["facts"], "facts"))
        if "facts" in top
        else ()
    )
    fact_ids = {fact.id: fact for fact in facts}
    questions = tuple(
        _read_question(node, seen, fact_ids) for node in _list(top["questions"], "questions")
    )
    cards = tuple(_read_card(node, seen) for node in _list(top["cards"], "cards"))
    labs = tuple(_read_lab(node, seen) for node in _list(top["labs"], "labs"))
    link_lines = _links_in_nodes(root)
    lesson = Lesson(
        id=lesson_id,
        title=_text(top["title"], "title"),
        order=_int(top["order"], "order", minimum=0),
        summary=_text(top["summary"], "summary"),
        prerequisites=tuple(prerequisites),
        body_markdown="",
        toc=(),
        questions=questions,
        cards=cards,
        labs=labs,
        facts=facts,
        folder=folder,
    )
    return lesson, link_lines


def _links_in_nodes(node: Node) -> list[tuple[str, int]]:
    """``lesson:`` links inside any text of the YAML (prompts, explanations, cards, intros)."""
    if isinstance(node, ScalarNode):
        return [(match.group(1), _line(node)) for match in LINK_PATTERN.finditer(str(node.value))]
    children: list[Node] = []
    if isinstance(node, SequenceNode):
        children = list(node.value)
    elif isinstance(node, MappingNode):
        children = [value for _, value in node.value]
    return [link for child in children for link in _links_in_nodes(child)]


def _read_question(node: Node, seen: dict[str, int], facts: Mapping[str, Fact]) -> Question:
    what = f"the question on line {_line(node)}"
    f = _fields(
        node,
        what,
        ("id", "kind", "prompt", "answer", "explanation"),
        ("choices", "tolerance", "rel_tolerance", "fact"),
    )
    question_id = _unique_id(f["id"], "a question", seen)
    what = f"question '{question_id}'"
    kind = _text(f["kind"], f"the kind of {what}")
    if kind not in QUESTION_KINDS:
        raise _Problem(
            _line(f["kind"]),
            f"unknown question kind '{kind}' (choose from {', '.join(QUESTION_KINDS)})",
        )
    for key in ("choices",) if kind != "choice" else ():
        if key in f:
            raise _Problem(_line(f[key]), f"'{key}' is only for choice questions")
    for key in ("tolerance", "rel_tolerance", "fact") if kind != "numeric" else ():
        if key in f:
            raise _Problem(_line(f[key]), f"'{key}' is only for numeric questions")
    choices: tuple[str, ...] = ()
    tolerance = rel_tolerance = None
    fact_id = None
    answer: int | float | tuple[str, ...]
    if kind == "choice":
        if "choices" not in f:
            raise _Problem(_line(node), f"{what} is missing the key 'choices'")
        choices = tuple(_text(c, f"a choice of {what}") for c in _list(f["choices"], "choices"))
        if len(choices) < 2:
            raise _Problem(_line(f["choices"]), f"{what} needs at least two choices")
        if len(set(choices)) != len(choices):
            raise _Problem(_line(f["choices"]), f"{what} has two identical choices")
        answer = _int(f["answer"], f"the answer of {what}")
        if not 0 <= answer < len(choices):
            raise _Problem(
                _line(f["answer"]),
                f"answer index {answer} is out of range: {what} has {len(choices)} choices "
                f"(0 to {len(choices) - 1})",
            )
    elif kind == "numeric":
        answer = _number(f["answer"], f"the answer of {what}")
        if "tolerance" in f:
            tolerance = _number(f["tolerance"], "tolerance")
            if tolerance < 0:
                raise _Problem(_line(f["tolerance"]), "tolerance must not be negative")
        if "rel_tolerance" in f:
            rel_tolerance = _number(f["rel_tolerance"], "rel_tolerance")
            if rel_tolerance < 0:
                raise _Problem(_line(f["rel_tolerance"]), "rel_tolerance must not be negative")
        if tolerance is None and rel_tolerance is None:
            raise _Problem(_line(node), f"{what} needs a 'tolerance' or a 'rel_tolerance'")
        if "fact" in f:
            fact_id = _text(f["fact"], "fact")
            if fact_id not in facts:
                raise _Problem(_line(f["fact"]), f"unknown fact '{fact_id}'")
            fact = facts[fact_id]
            if not _close(answer, fact.value, fact.tolerance, fact.rel_tolerance, default=1e-9):
                raise _Problem(
                    _line(f["answer"]),
                    f"answer {answer:g} differs from fact '{fact_id}' = {fact.value:g}",
                )
    else:
        answer_node = f["answer"]
        items = _list(answer_node, f"the answer of {what} (accepted answers)")
        answer = tuple(_text(item, "an accepted answer") for item in items)
        if not answer:
            raise _Problem(_line(answer_node), f"{what} needs at least one accepted answer")
        if any(ch in answer[0] for ch in PATTERN_CHARACTERS):
            raise _Problem(
                _line(items[0]),
                f"the first accepted answer of {what} is shown to the learner: write it "
                "plainly, without [optional] or {a|b} parts",
            )
        for item, text in zip(items, answer):
            if text.count("[") != text.count("]") or text.count("{") != text.count("}"):
                raise _Problem(_line(item), f"unbalanced [ ] or {{ }} in the answer {text!r}")
    return Question(
        id=question_id,
        kind=kind,
        prompt=_text(f["prompt"], f"the prompt of {what}"),
        answer=answer,
        explanation=_text(f["explanation"], f"the explanation of {what}"),
        choices=choices,
        tolerance=tolerance,
        rel_tolerance=rel_tolerance,
        fact=fact_id,
        line=_line(node),
    )


def _read_card(node: Node, seen: dict[str, int]) -> Card:
    f = _fields(node, f"the card on line {_line(node)}", ("id", "front", "back"))
    card_id = _unique_id(f["id"], "a card", seen)
    return Card(
        id=card_id,
        front=_text(f["front"], f"the front of card '{card_id}'"),
        back=_text(f["back"], f"the back of card '{card_id}'"),
        line=_line(node),
    )


def _read_lab(node: Node, seen: dict[str, int]) -> Lab:
    f = _fields(node, f"the lab on line {_line(node)}", ("id", "kind", "title", "intro", "preset"))
    lab_id = _unique_id(f["id"], "a lab", seen)
    from arlm_tui.learn.labs import LAB_KINDS  # each lab kind registers itself there

    kind = _text(f["kind"], f"the kind of lab '{lab_id}'")
    if kind not in LAB_KINDS:
        raise _Problem(
            _line(f["kind"]), f"unknown lab kind '{kind}' (choose from {', '.join(LAB_KINDS)})"
        )
    preset = _read_spec(
        f["preset"],
        LAB_KINDS[kind],
        f"the preset of lab '{lab_id}' ({kind})",
        line=_key_line(node, "preset"),
    )
    return Lab(
        id=lab_id,
        kind=kind,
        title=_text(f["title"], f"the title of lab '{lab_id}'"),
        intro=_text(f["intro"], f"the intro of lab '{lab_id}'"),
        preset=preset,
        line=_line(node),
    )


def _read_fact(node: Node, seen: dict[str, int]) -> Fact:
    f = _fields(
        node,
        f"the fact on line {_line(node)}",
        ("id", "value", "compute"),
        ("tolerance", "rel_tolerance", "shown"),
    )
    fact_id = _unique_id(f["id"], "a fact", seen)
    compute_node = f["compute"]
    entries = _mapping(compute_node, f"the compute of fact '{fact_id}'")
    if "kind" not in entries:
        raise _Problem(_line(compute_node), f"the compute of fact '{fact_id}' needs a 'kind'")
    kind_node = entries["kind"][1]
    kind = _text(kind_node, "the compute kind")
    if kind not in FACT_KINDS:
        raise _Problem(
            _line(kind_node), f"unknown fact kind '{kind}' (choose from {', '.join(FACT_KINDS)})"
        )
    compute = dict(
        _read_spec(
            compute_node,
            FACT_KINDS[kind],
            f"the compute of fact '{fact_id}' ({kind})",
            line=_key_line(node, "compute"),
            extra=("kind",),
        )
    )
    tolerance = rel_tolerance = None
    if "tolerance" in f:
        tolerance = _number(f["tolerance"], "tolerance")
    if "rel_tolerance" in f:
        rel_tolerance = _number(f["rel_tolerance"], "rel_tolerance")
    return Fact(
        id=fact_id,
        value=_number(f["value"], f"the value of fact '{fact_id}'"),
        compute=compute,
        tolerance=tolerance,
        rel_tolerance=rel_tolerance,
        shown=_text(f["shown"], "shown") if "shown" in f else None,
        line=_line(node),
    )


def _read_spec(node: Node, spec: KindSpec, what: str, line: int, extra: Sequence[str] = ()) -> dict:
    """Check a preset / compute mapping against its KindSpec and the value rules below."""
    optional = spec.allowed[len(spec.required) :] + tuple(extra)
    fields = _fields(node, what, spec.required, optional, line=line)
    if spec.one_of and not any(all(k in fields for k in group) for group in spec.one_of):
        options = " or ".join("+".join(group) for group in spec.one_of)
        raise _Problem(line, f"{what} needs {options}")
    values: dict[str, Any] = {}
    for key, value_node in fields.items():
        value = _construct(value_node)
        check = _VALUE_CHECKS.get(key)
        if check is not None:
            problem = check(value)
            if problem:
                raise _Problem(_line(value_node), f"'{key}' in {what} {problem}")
        values[key] = value
    return values


# ---------------------------------------------------------------------------- value rules
def _positive_int(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return None if ok else f"must be a whole number ≥ 1, not {value!r}"


def _non_negative_int(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else f"must be a whole number ≥ 0, not {value!r}"


def _positive_number(value: Any) -> str | None:
    number = as_number(value)
    return None if number is not None and number > 0 else f"must be a number > 0, not {value!r}"


def _unit_interval(value: Any) -> str | None:
    number = as_number(value)
    ok = number is not None and 0 <= number <= 1
    return None if ok else f"must be a number from 0 to 1, not {value!r}"


def _numbers(value: Any) -> str | None:
    ok = isinstance(value, list) and value and all(as_number(v) is not None for v in value)
    return None if ok else f"must be a non-empty list of numbers, not {value!r}"


def _probabilities(value: Any) -> str | None:
    if _numbers(value):
        return _numbers(value)
    numbers = [as_number(v) for v in value]
    if any(p < 0 or p > 1 for p in numbers):
        return "must hold probabilities between 0 and 1"
    return None


def _distribution(value: Any) -> str | None:
    problem = _probabilities(value)
    if problem:
        return problem
    total = sum(as_number(v) for v in value)
    return None if abs(total - 1) <= 1e-6 else f"must sum to 1 (it sums to {total:.6g})"


def _one_of(options: Sequence[str]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}, not {value!r}"

    return check


def _corpus(value: Any) -> str | None:
    if value == "toy":
        return None
    ok = isinstance(value, list) and value and all(isinstance(s, str) and s for s in value)
    return None if ok else "must be 'toy' or a list of sentences"


def _cells(value: Any) -> str | None:
    ok = isinstance(value, list) and value and all(c in CELLS for c in value)
    return None if ok else f"must be a list of cell types from {', '.join(CELLS)}"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be text, not {value!r}"


def _conditionals(value: Any) -> str | None:
    """A list of probabilities, or (for the chain_rule lab) of {token, prob} mappings."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for item in value:
            if set(item) - {"token", "prob", "context"} or "prob" not in item:
                return "items must be {token, prob} mappings"
            if _probabilities([item["prob"]]):
                return "must hold probabilities between 0 and 1"
        return None
    return _probabilities(value)


def _words(value: Any) -> str | None:
    ok = (
        isinstance(value, dict)
        and value
        and all(
            isinstance(w, str) and isinstance(c, int) and not isinstance(c, bool) and c >= 1
            for w, c in value.items()
        )
    )
    return None if ok else "must map words to counts ≥ 1"


def _text_list(value: Any) -> str | None:
    # YAML reads bare yes/no/on/off as booleans and 1 as a number: a token must be quoted then.
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    bad = next((v for v in value if not isinstance(v, str)), None) if isinstance(value, list) else value
    return None if ok else f"must be a list of texts; quote {bad!r} (YAML read it as {type(bad).__name__})"


_VALUE_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "tokens": _text_list,
    "order": _positive_int,
    "width": _positive_int,
    "steps": _positive_int,
    "length": _positive_int,
    "n": _positive_int,
    "merges": _non_negative_int,
    "max_tokens": _positive_int,
    "hidden_size": _positive_int,
    "index": _non_negative_int,
    "target": _non_negative_int,
    "learning_rate": _positive_number,
    "V": _positive_int,
    "d": _positive_int,
    "h": _positive_int,
    "m": _positive_int,
    "layers": _positive_int,
    "alpha": lambda v: None if as_number(v) is not None else f"must be a number, not {v!r}",
    "t": _positive_int,
    "T": _positive_int,
    "positions": _positive_int,
    "part": _one_of(("total", "blocks", "block")),
    "cell": _one_of(CELLS),
    "biases": _one_of(("one", "torch")),
    "penalty": _positive_number,
    "seen": lambda v: None
    if isinstance(v, list) and all(_non_negative_int(x) is None for x in v)
    else f"must be a list of token indices, not {v!r}",
    "temperature": _positive_number,
    "k": _positive_number,
    "p": lambda v: _unit_interval(v) if not isinstance(v, list) else _distribution(v),
    "q": _distribution,
    "probs": _distribution,
    "logits": _numbers,
    "conditionals": _conditionals,
    "smoothing": _one_of(SMOOTHINGS),
    "unit": _one_of(UNITS),
    "cells": _cells,
    "corpus": _corpus,
    "context": _string,
    "token": _string,
    "sentence": _string,
    "prompt": _string,
    "words": _words,
}


def _knob_check(knob: Knob) -> Callable[[Any], str | None]:
    """A value rule from a decoding knob's own range (``Knob.check``)."""

    def check(value: Any) -> str | None:
        try:
            knob.check(value)
        except ValueError as exc:
            return str(exc).removeprefix(f"{knob.name} ")
        return None

    return check


# the playground's knobs are checked by their own range (temperature keeps its rule: the facts
# divide by it, so 0 is refused there)
for _name, _knob in PLAYGROUND_KNOBS.items():
    _VALUE_CHECKS.setdefault(_name, _knob_check(_knob))


# ---------------------------------------------------------------------------- numbers
def as_number(value: Any) -> float | None:
    """A YAML value as a number: int, float, or a whole string like "2/3" (None otherwise)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and is_number_text(value):
        return parse_number(value)
    return None


def __getattr__(name: str) -> Any:
    """``LAB_KINDS`` lives with the labs (``arlm_tui.learn.labs``), which import this module."""
    if name == "LAB_KINDS":
        from arlm_tui.learn.labs import LAB_KINDS

        return LAB_KINDS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
