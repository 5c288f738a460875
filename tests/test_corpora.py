"""Corpora: reading text files (and every way they can be wrong), sentences, splits, pyref."""

from __future__ import annotations

import sys
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlm_tui.errors import CorpusError
from arlm_tui.text import (
    MAX_CORPUS_BYTES,
    TOY_CORPUS,
    corpora,
    pyref_sentences,
    pyref_text,
    read_corpus,
    read_text_file,
    split_sentences,
    train_valid_split,
)


def test_toy_corpus_is_the_lecture_example():
    assert TOY_CORPUS == ("i love cats", "i love dogs", "cats chase mice")
    assert MAX_CORPUS_BYTES == 64 * 1024 * 1024


# ------------------------------------------------------------------ read_text_file
def test_read_text_file_reads_utf8_and_strips_a_bom(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"\xef\xbb\xbfna\xc3\xafve caf\xc3\xa9\nline two\n")
    assert read_text_file(path) == "naïve café\nline two\n"
    assert read_text_file(str(path)) == "naïve café\nline two\n"


def _error_for(path) -> str:
    with pytest.raises(CorpusError) as info:
        read_text_file(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    return message


def test_missing_file(tmp_path):
    assert "no such file" in _error_for(tmp_path / "missing.txt")


def test_directory(tmp_path):
    assert "directory" in _error_for(tmp_path)


@pytest.mark.parametrize(("content", "word"), [(b"", "empty"), (b" \n\t\r\n  ", "whitespace")])
def test_empty_and_whitespace_only(tmp_path, content, word):
    path = tmp_path / "blank.txt"
    path.write_bytes(content)
    assert word in _error_for(path)


def test_binary_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"PK\x03\x04\x00\x00\x00binary stuff")
    assert "binary" in _error_for(path)


def test_nul_after_the_first_8_kib_is_not_sniffed_as_binary(tmp_path):
    path = tmp_path / "late.txt"
    path.write_bytes(b"a" * (corpora.BINARY_SNIFF_BYTES + 10) + b"\x00")
    assert read_text_file(path).startswith("aaa")


def test_invalid_utf8_names_line_and_byte_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    data = "first line\nsecond line\nthird café\n".encode("latin-1")
    path.write_bytes(data)
    message = _error_for(path)
    assert "line 3" in message
    bad_offset = data.index("é".encode("latin-1"))
    assert f"byte offset {bad_offset}" in message
    with pytest.raises(CorpusError) as info:
        read_text_file(path)
    assert info.value.line == 3


def test_invalid_utf8_offset_counts_the_bom(tmp_path):
    path = tmp_path / "bom.txt"
    data = b"\xef\xbb\xbfok\n\xff"
    path.write_bytes(data)
    message = _error_for(path)
    assert "line 2" in message and f"byte offset {len(data) - 1}" in message


def test_too_large(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_text("word " * 100, encoding="utf-8")
    monkeypatch.setattr(corpora, "MAX_CORPUS_BYTES", 100)
    message = _error_for(path)
    assert "too large" in message and "500 bytes" in message and "100 bytes" in message


# ------------------------------------------------------------------ sentences
def test_split_sentences_rules():
    text = (
        "The cat sat.  The dog\nbarked!\nDid it? Yes (it did.) Pi is 3.14 here\n"
        "\n   \n"
        'New "paragraph." Without a full stop\n\nlast'
    )
    assert split_sentences(text) == [
        "The cat sat.",
        "The dog barked!",
        "Did it?",
        "Yes (it did.)",
        "Pi is 3.14 here",
        'New "paragraph."',
        "Without a full stop",
        "last",
    ]
    assert split_sentences("") == [] and split_sentences(" \n\n \n") == []
    assert split_sentences("one\r\n\r\ntwo") == ["one", "two"]


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab .!?\n\t\"')")), max_size=80))
def test_split_sentences_keeps_every_word_and_no_line_breaks(text):
    sentences = split_sentences(text)
    assert " ".join(sentences).split() == text.split()
    for sentence in sentences:
        assert sentence and sentence == sentence.strip() and "\n" not in sentence
        assert "  " not in sentence


def test_read_corpus_units(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("One. Two!\nthree\n\n  four  \n", encoding="utf-8")
    assert read_corpus(path) == ["One.", "Two!", "three", "four"]
    assert read_corpus(path, unit="sentence") == split_sentences(path.read_text("utf-8"))
    assert read_corpus(path, unit="line") == ["One. Two!", "three", "four"]
    with pytest.raises(ValueError, match="unit"):
        read_corpus(path, unit="paragraph")
    with pytest.raises(CorpusError):
        read_corpus(tmp_path / "missing.txt")


# ------------------------------------------------------------------ train / valid
def test_split_is_deterministic_and_order_preserving():
    items = [f"s{i}" for i in range(50)]
    train, valid = train_valid_split(items, 0.2, seed=3)
    assert (train, valid) == train_valid_split(items, 0.2, seed=3)
    assert len(valid) == 10 and len(train) == 40
    assert sorted(train + valid) == sorted(items)
    assert train == [x for x in items if x in set(train)]
    assert valid == [x for x in items if x in set(valid)]
    assert train_valid_split(items, 0.2, seed=4) != (train, valid)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=40),
    fraction=st.floats(min_value=1e-6, max_value=1 - 1e-6),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_split_partitions_with_both_parts_nonempty(n, fraction, seed):
    items = [i % 7 for i in range(n)]  # duplicates allowed
    train, valid = train_valid_split(items, fraction, seed)
    assert Counter(train) + Counter(valid) == Counter(items)
    if n >= 2:
        assert train and valid
        assert len(valid) == min(max(round(n * fraction), 1), n - 1)
    else:
        assert train == items and valid == []


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_fractions_outside_open_interval(fraction):
    with pytest.raises(ValueError, match="valid_fraction"):
        train_valid_split([1, 2, 3], fraction)


# ------------------------------------------------------------------ pyref
def test_pyref_text_is_the_sorted_reference_topics():
    from pydoc_data.topics import topics

    text = pyref_text()
    end = 0
    for key in sorted(topics):  # every topic, in sorted order, each after a blank line
        body = topics[key].strip("\n")
        start = text.index(body, end)
        assert start == 0 if end == 0 else text[end:start] == "\n\n"
        end = start + len(body)
    assert end == len(text)
    sentences = pyref_sentences()
    assert len(sentences) > 1000
    assert all(s and "\n" not in s for s in sentences)
    sentences.clear()  # callers get their own list
    assert pyref_sentences()


def test_pyref_without_pydoc_data_is_a_corpus_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydoc_data.topics", None)
    corpora.pyref_text.cache_clear()
    corpora._pyref_sentences.cache_clear()
    try:
        with pytest.raises(CorpusError, match="pydoc_data"):
            pyref_text()
    finally:
        corpora.pyref_text.cache_clear()
        corpora._pyref_sentences.cache_clear()


# ------------------------------------------------------------------ sentence or line
def test_detect_sentence_reading():
    import textwrap

    from arlm_tui.text.corpora import detect_sentence_reading

    prose = " ".join(
        f"Sentence {i} goes on {'and on ' * (i % 4 + 18)}until it stops." for i in range(12)
    )
    cases = [
        ("i love cats\ni love dogs\ncats chase mice\n", "lines"),  # no punctuation at all
        ("The cat sat.\nA dog barked at the postman!\nWhy?\n", "lines"),
        ("One. Two! Three?\nFour. Five.\nsix\n", "punctuation"),  # several sentences a line
        (textwrap.fill(prose, 70), "punctuation"),
        (textwrap.fill(prose, 60) + "\n\n" + textwrap.fill(prose, 60), "punctuation"),
        ("", "lines"),
    ]
    for text, expected in cases:
        assert detect_sentence_reading(text).reading == expected, text
    # wrapped Markdown: a few wrapped paragraphs among a code block and a list
    words = prose.split()
    markdown = "\n\n".join(
        [
            "# Title",
            textwrap.fill(" ".join(words[:60]), 100),
            "```bash\n" + "\n".join(f"run --step {'x' * (i * 7 % 30)}" for i in range(12)) + "\n```",
            "- a point\n- another point, longer than the first\n- " + "\n- ".join("abcdefgh"),
            textwrap.fill(" ".join(words[60:]), 100),
        ]
    )
    how = detect_sentence_reading(markdown)
    assert how.reading == "punctuation" and "100 columns" in how.reason
    wrapped = detect_sentence_reading(textwrap.fill(prose, 72))
    assert "72 columns" in wrapped.reason and "--sentences lines" in wrapped.describe()


def test_read_sentences_detects_or_obeys(tmp_path):
    from arlm_tui.text.corpora import read_sentences

    path = tmp_path / "c.txt"
    path.write_text("a b c\nd e. f\ng h\n", encoding="utf-8")
    sentences, how = read_sentences(path)
    assert how.reading == "lines" and how.detected and sentences == ["a b c", "d e. f", "g h"]
    sentences, how = read_sentences(path, "punctuation")
    assert not how.detected and sentences == ["a b c d e.", "f g h"]
    with pytest.raises(ValueError, match="reading"):
        read_sentences(path, "paragraphs")
