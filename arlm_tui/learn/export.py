"""Flashcards out of arlm: an Anki package (.apkg) and a printable HTML page (one card a page).

Anki matches an imported note to an existing one by its guid, so every id here is fixed: the
deck id and the note-type (model) id are constants, and a note's guid is ``guid_for(card id)``.
Importing a newer export therefore updates the notes already in Anki (and keeps their review
history there) instead of adding duplicates.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from arlm_tui.errors import ArlmError
from arlm_tui.learn.cards import Flashcard

#: Chosen once at random in Anki's recommended range [2^30, 2^31); never change them.
ANKI_DECK_ID = 1_742_081_553
ANKI_MODEL_ID = 1_398_356_417
ANKI_DECK_NAME = "arlm: language models"

_CARD_CSS = """.card { font-family: sans-serif; font-size: 20px; text-align: left;
  color: black; background-color: white; }
.source { color: #888; font-size: 12px; margin-top: 2em; }"""


def _html_text(text: str) -> str:
    """Plain text as HTML: escaped, line breaks kept."""
    return html.escape(text).replace("\n", "<br>")


def _tag(text: str) -> str:
    """An Anki tag (no spaces): ``arlm::<lesson id>`` or ``arlm::my-cards``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def note_guid(card: Flashcard) -> str:
    """The Anki guid of a card: a function of its id only, so re-exports update the note."""
    import genanki

    return genanki.guid_for("arlm", card.id)


def export_anki(cards: Sequence[Flashcard], path: str | Path) -> int:
    """Write ``cards`` as an Anki package at ``path``; return the number of notes written.

    Fields: Front, Back, and Id (the arlm card id, shown small under the answer)."""
    import genanki

    path = Path(path)
    model = genanki.Model(
        ANKI_MODEL_ID,
        "arlm flashcard",
        fields=[{"name": "Front"}, {"name": "Back"}, {"name": "Id"}],
        templates=[
            {
                "name": "Card 1",
                "qfmt": "{{Front}}",
                "afmt": '{{FrontSide}}<hr id="answer">{{Back}}<div class="source">{{Id}}</div>',
            }
        ],
        css=_CARD_CSS,
    )
    deck = genanki.Deck(ANKI_DECK_ID, ANKI_DECK_NAME)
    for card in cards:
        source = "my-cards" if card.is_own else card.source
        deck.add_note(
            genanki.Note(
                model=model,
                fields=[_html_text(card.front), _html_text(card.back), html.escape(card.id)],
                guid=note_guid(card),
                tags=["arlm", f"arlm::{_tag(source)}"],
            )
        )
    from arlm_tui.outputs import writing

    try:
        with writing(path) as tmp:  # a temporary file renamed into place
            genanki.Package(deck).write_to_file(str(tmp))
    except OSError as exc:
        raise ArlmError(
            f"cannot write the Anki package ({exc.strerror or exc})", path=path
        ) from None
    return len(cards)


_PAGE_CSS = """
  body { font-family: Georgia, serif; margin: 0; }
  .card { box-sizing: border-box; min-height: 90vh; padding: 3em 2.5em;
          display: flex; flex-direction: column; justify-content: center;
          break-after: page; page-break-after: always; }
  .card:last-child { break-after: auto; page-break-after: auto; }
  .front { font-size: 1.6em; white-space: pre-wrap; }
  .back { font-size: 1.3em; white-space: pre-wrap; margin-top: 2.5em; padding-top: 1.5em;
          border-top: 1px dashed #999; }
  .id { margin-top: 3em; color: #888; font: 0.8em sans-serif; }
  @media screen { .card { border-bottom: 1px solid #ccc; } }
"""


def render_html(cards: Sequence[Flashcard], title: str = "arlm flashcards") -> str:
    """A self-contained HTML document: each card on its own printed page (CSS page breaks),
    the question on top, the answer below a dashed fold line, the card id in small print."""
    sections = [
        (
            f'<section class="card" id="{html.escape(card.id, quote=True)}">\n'
            f'  <div class="front">{html.escape(card.front)}</div>\n'
            f'  <div class="back">{html.escape(card.back)}</div>\n'
            f'  <div class="id">{html.escape(card.id)}</div>\n'
            "</section>"
        )
        for card in cards
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_PAGE_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def export_html(
    cards: Sequence[Flashcard], path: str | Path, title: str = "arlm flashcards"
) -> int:
    """Write the printable page of ``cards`` to ``path``; return the number of cards."""
    path = Path(path)
    from arlm_tui.outputs import write_text

    try:
        write_text(path, render_html(cards, title))
    except OSError as exc:
        raise ArlmError(f"cannot write the HTML file ({exc.strerror or exc})", path=path) from None
    return len(cards)
