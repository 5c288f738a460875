"""Loading lessons: read ``lessons/NN-slug/`` folders into ``Lesson`` data, reporting every
problem as ``file:line: what is wrong``.

The YAML is read with ``yaml.SafeLoader`` as a node tree, so that each value keeps its line; the
rules a value must follow are in ``validation.py``. A broken lesson is listed in
``LessonSet.broken`` and never stops the other lessons from loading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from arlm_tui import paths
from arlm_tui.errors import ArlmError
from arlm_tui.learn.grading import PATTERN_CHARACTERS
from arlm_tui.learn.grading import close as _close
from arlm_tui.learn.lessons.model import (
    Card,
    Fact,
    Lab,
    Lesson,
    LessonError,
    LessonLoadError,
    LessonSet,
    Question,
)
from arlm_tui.learn.lessons.validation import (
    FACT_KINDS,
    QUESTION_KINDS,
    KindSpec,
    as_number,
    check_value,
)

#: libyaml's safe loader when PyYAML has it (the same node tree with line marks, ~10× faster
#: than the pure-Python one, which took ~0.5 s for the shipped lessons)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

LESSON_FILE = "lesson.md"
META_FILE = "lesson.yaml"
#: A lesson folder is named like ``05-ngrams``; anything else in the lessons directory is ignored.
FOLDER_PATTERN = re.compile(r"^\d{2}-[a-z0-9]+(?:-[a-z0-9]+)*$")
#: ``[text](lesson:05-ngrams)`` or ``[text](lesson:05-ngrams#counting)``.
LINK_PATTERN = re.compile(r"\]\(lesson:([^)#\s]*)(#[^)\s]*)?\)")


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
    except RecursionError:  # the pure-Python loader (no libyaml) has no depth limit of its own
        raise fail(None, "YAML nested too deeply") from None
    if root_node is None:
        raise fail(1, "the file is empty")
    try:
        lesson, link_lines = _read_meta(root_node, folder)
    except _Problem as problem:
        raise fail(problem.line, problem.message) from None
    except RecursionError:
        raise fail(None, "YAML nested too deeply") from None

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
    """Check a preset / compute mapping against its KindSpec and the value rules
    (``validation.check_value``)."""
    optional = spec.allowed[len(spec.required) :] + tuple(extra)
    fields = _fields(node, what, spec.required, optional, line=line)
    if spec.one_of and not any(all(k in fields for k in group) for group in spec.one_of):
        options = " or ".join("+".join(group) for group in spec.one_of)
        raise _Problem(line, f"{what} needs {options}")
    values: dict[str, Any] = {}
    for key, value_node in fields.items():
        value = _construct(value_node)
        problem = check_value(key, value, spec)
        if problem:
            raise _Problem(_line(value_node), f"'{key}' in {what} {problem}")
        values[key] = value
    return values
