"""A valid lesson to break in tests (the loader's file-and-line errors), written next to a copy
of the shipped lessons."""

from __future__ import annotations

import shutil
from pathlib import Path

from arlm_tui import paths

GOOD_YAML = """\
id: {folder}
title: A test lesson
order: 50
summary: Used by the tests.
prerequisites: [01-generative-models]
questions:
  - id: q1
    kind: choice
    prompt: Pick the second.
    choices: [first, second, third]
    answer: 1
    explanation: It is the second.
  - id: q2
    kind: numeric
    prompt: What is 0.4 × 0.5 × 0.15?
    answer: 0.03
    tolerance: 0.001
    fact: f1
    explanation: Multiply.
  - id: q3
    kind: text
    prompt: Name the algorithm that keeps the best B hypotheses.
    answer: [beam search, beam]
    explanation: Beam search.
cards:
  - id: c1
    front: Front
    back: Back
labs:
  - id: lab1
    kind: trigram_table
    title: Table
    intro: Look at the counts.
    preset:
      corpus: toy
      order: 3
      smoothing: mle
facts:
  - id: f1
    value: 0.03
    compute: {{kind: chain_product, conditionals: [0.4, 0.5, 0.15]}}
"""


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


GOOD_MD = "# A test lesson\n\n## Part one\n\nText with a [link](lesson:01-generative-models).\n"


def lessons_root(tmp_path: Path) -> Path:
    """A copy of the shipped lessons, next to which the tests write broken ones."""
    root = tmp_path / "lessons"
    shutil.copytree(paths.lessons_dir(), root)
    return root


def write_lesson(root: Path, folder: str, yaml_text: str | None, md_text: str | None = GOOD_MD):
    directory = root / folder
    directory.mkdir()
    if yaml_text is not None:
        (directory / "lesson.yaml").write_text(yaml_text, encoding="utf-8")
    if md_text is not None:
        (directory / "lesson.md").write_text(md_text, encoding="utf-8")
    return directory


def swap(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)
