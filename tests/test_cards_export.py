"""Exporting flashcards: an Anki package whose notes keep their guids across exports, and a
printable HTML page with one card per page."""

from __future__ import annotations

import json
import re
import sqlite3
import zipfile
from html.parser import HTMLParser
from pathlib import Path

from arlm_tui.cli import learn as cli_learn
from arlm_tui.learn.cards import MY_CARDS_FILE, Flashcard
from arlm_tui.learn.export import (
    ANKI_DECK_ID,
    ANKI_MODEL_ID,
    export_anki,
    export_html,
    note_guid,
    render_html,
)

CARDS = [
    Flashcard("01-x/c1", "What is p(x₁, x₂)?", "p(x₁) · p(x₂ | x₁)", "01-x"),
    Flashcard("01-x/c2", "Is <s> ever predicted?", "No: log p(<s>) = −inf & never sampled", "01-x"),
    Flashcard("my/ppl", "Perplexity of a uniform\nmodel over V tokens?", "V", "my_cards.txt"),
]


def _notes(apkg: Path, tmp_path: Path) -> dict[str, list[str]]:
    """guid -> fields of every note in the package's collection."""
    with zipfile.ZipFile(apkg) as package:
        assert "collection.anki2" in package.namelist()
        package.extract("collection.anki2", tmp_path)
    db = sqlite3.connect(tmp_path / "collection.anki2")
    try:
        notes = {
            guid: flds.split("\x1f") for guid, flds in db.execute("SELECT guid, flds FROM notes")
        }
        [(decks, models)] = db.execute("SELECT decks, models FROM col").fetchall()
        assert str(ANKI_DECK_ID) in json.loads(decks)
        assert str(ANKI_MODEL_ID) in json.loads(models)
        assert db.execute("SELECT COUNT(*) FROM cards").fetchone()[0] == len(notes)
    finally:
        db.close()
    (tmp_path / "collection.anki2").unlink()
    return notes


def test_anki_package_holds_every_card(tmp_path):
    path = tmp_path / "arlm.apkg"
    assert export_anki(CARDS, path) == len(CARDS)
    notes = _notes(path, tmp_path)
    assert set(notes) == {note_guid(card) for card in CARDS}
    for card in CARDS:
        front, back, card_id = notes[note_guid(card)]
        assert card_id == card.id
        assert "<s>" not in front + back  # text is escaped for Anki's HTML fields
    ppl = notes[note_guid(CARDS[2])]
    assert ppl[0] == "Perplexity of a uniform<br>model over V tokens?"
    assert notes[note_guid(CARDS[1])][0] == "Is &lt;s&gt; ever predicted?"


def test_reexport_keeps_guids_even_after_edits(tmp_path):
    first, second = tmp_path / "a.apkg", tmp_path / "b.apkg"
    export_anki(CARDS, first)
    edited = [Flashcard(c.id, c.front + " (edited)", c.back, c.source) for c in CARDS]
    export_anki(edited, second)
    notes_a, notes_b = _notes(first, tmp_path), _notes(second, tmp_path)
    assert set(notes_a) == set(notes_b)
    assert all(notes_b[g][0].endswith("(edited)") for g in notes_b)
    assert len({note_guid(c) for c in CARDS}) == len(CARDS)


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, str]] = []
        self._part: str | None = None

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class")
        if tag == "section" and cls == "card":
            self.cards.append({"id_attr": dict(attrs)["id"]})
        elif cls in ("front", "back", "id"):
            self._part = cls

    def handle_endtag(self, tag):
        self._part = None

    def handle_data(self, data):
        if self._part:
            self.cards[-1][self._part] = self.cards[-1].get(self._part, "") + data


def test_html_has_one_card_per_page(tmp_path):
    path = tmp_path / "cards.html"
    assert export_html(CARDS, path) == len(CARDS)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
    css = re.search(r"\.card \{[^}]*\}", text).group(0)
    assert "page-break-after: always" in css and "break-after: page" in css
    parser = _Sections()
    parser.feed(text)
    assert [(c["front"], c["back"], c["id"]) for c in parser.cards] == [
        (c.front, c.back, c.id) for c in CARDS
    ]
    assert [c["id_attr"] for c in parser.cards] == [c.id for c in CARDS]
    assert "<s>" not in text.split("<body>")[1]  # escaped, never raw markup
    assert render_html([]).count('class="card"') == 0


def test_cli_export_writes_both_files(tmp_path, capsys, monkeypatch, _arlm_home):
    monkeypatch.setattr("arlm_tui.paths.lessons_dir", lambda: Path(_arlm_home))
    (Path(_arlm_home) / MY_CARDS_FILE).write_text("[a] one :: 1\ntwo :: 2\n")
    apkg, page = tmp_path / "out.apkg", tmp_path / "out.html"
    code = cli_learn.main(["cards", "export", "--anki", str(apkg), "--html", str(page)])
    out = capsys.readouterr().out
    assert code == 0 and str(apkg) in out and str(page) in out
    assert len(_notes(apkg, tmp_path)) == 2
    assert page.read_text().count('<section class="card"') == 2


def test_cli_export_to_an_unwritable_place_is_one_line(tmp_path, capsys):
    target = tmp_path / "no" / "such" / "dir" / "x.html"
    code = cli_learn.main(["cards", "export", "--html", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("arlm: error: ") and err.count("\n") == 1
    assert str(target) in err
