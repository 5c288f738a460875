"""Tokenizers: special ids, the three kinds, round trips, BPE merges and their replay, files."""

from __future__ import annotations

import json
import string
import subprocess
import sys
from collections import Counter
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arlm_tui.errors import ModelLoadError
from arlm_tui.text import (
    TOY_CORPUS,
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    bpe_merge_steps,
    learn_bpe,
    load_tokenizer,
    make_tokenizer,
    tokenizer_from_dict,
)
from arlm_tui.text.tokenizers import from_byte_symbols, to_byte_symbols

ENGLISH = [
    "The cat sat on the mat.",
    "The dog sat on the log, and the cat watched.",
    "Cats chase mice; dogs chase cats!",
    "Is the state-of-the-art model better? I don't think so.",
    "Numbers like 3.14 and 1,000 are tokens (too).",
    "the the the cat cat dog",
]


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer.train(ENGLISH * 3, vocab_size=340)


def all_kinds(bpe: BPETokenizer) -> list[Tokenizer]:
    return [CharTokenizer.train(ENGLISH), WordTokenizer.train(ENGLISH), bpe]


# ------------------------------------------------------------------ common contract
def test_special_ids_are_fixed_for_every_kind(bpe):
    for tok in all_kinds(bpe):
        assert tok.vocab[:3] == ["<unk>", "<s>", "</s>"]
        assert (tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2)
        assert [tok.token_to_id[s] for s in ("<unk>", "<s>", "</s>")] == [0, 1, 2]
        assert len(tok) == len(tok.vocab) == len(tok.token_to_id)
        assert all(tok.token_to_id[t] == i for i, t in enumerate(tok.vocab))


def test_decode_drops_bos_eos_and_shows_unk(bpe):
    for tok in all_kinds(bpe):
        ids = tok.encode("the cat")
        assert tok.decode([tok.bos_id, *ids, tok.eos_id]) == tok.decode(ids)
        assert "<unk>" in tok.decode([*ids, tok.unk_id])
        assert tok.join(ids) == tok.decode(ids)
        with pytest.raises(ValueError, match="ids"):
            tok.decode([len(tok)])
        with pytest.raises(ValueError, match="token_id"):
            tok.token_text(-1)


def test_encode_adds_no_specials(bpe):
    for tok in all_kinds(bpe):
        ids = tok.encode("the cat sat")
        assert ids and tok.bos_id not in ids and tok.eos_id not in ids
        assert tok.encode("") == []
        assert tok.encode_batch(["the cat", "sat"]) == [tok.encode("the cat"), tok.encode("sat")]


def test_make_tokenizer_dispatches_on_kind():
    for kind, cls in (("char", CharTokenizer), ("word", WordTokenizer), ("bpe", BPETokenizer)):
        tok = make_tokenizer(kind, TOY_CORPUS)
        assert isinstance(tok, cls) and tok.kind == kind
    with pytest.raises(ValueError, match="kind"):
        make_tokenizer("sentencepiece", TOY_CORPUS)


def test_bad_training_arguments_raise_value_error():
    with pytest.raises(ValueError, match="min_count"):
        WordTokenizer.train(TOY_CORPUS, min_count=0)
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train(TOY_CORPUS, vocab_size=100)
    with pytest.raises(ValueError, match="max_size"):
        CharTokenizer.train(TOY_CORPUS, max_size=2)


# ------------------------------------------------------------------ from_vocab
def test_word_from_vocab_keeps_order_and_skips_duplicates_and_specials():
    tok = WordTokenizer.from_vocab(["i", "love", "<s>", "cats", "love", "</s>", "<unk>"])
    assert tok.vocab == ["<unk>", "<s>", "</s>", "i", "love", "cats"]
    assert tok.encode("i love dogs") == [3, 4, 0]
    lower = WordTokenizer.from_vocab(["I", "Love", "i"], lowercase=True)
    assert lower.vocab == ["<unk>", "<s>", "</s>", "i", "love"]
    assert lower.encode("I LOVE") == [3, 4]


def test_char_from_vocab_accepts_a_string_or_a_list():
    tok = CharTokenizer.from_vocab("ab a\n")
    assert tok.vocab == ["<unk>", "<s>", "</s>", "a", "b", " ", "\n"]
    assert CharTokenizer.from_vocab(["a", "b", " ", "\n"]).vocab == tok.vocab
    assert tok.encode("ab\nc") == [3, 4, 6, 0]
    with pytest.raises(ValueError, match="single characters"):
        CharTokenizer.from_vocab(["ab"])


# ------------------------------------------------------------------ word
@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("I don't know.", ["I", "don't", "know", "."]),
        ("a state-of-the-art model", ["a", "state-of-the-art", "model"]),
        ("pi is 3.14, not 1,000!", ["pi", "is", "3.14", ",", "not", "1,000", "!"]),
        ("f(x_1) = 'y'...", ["f", "(", "x", "_", "1", ")", "=", "'", "y", "'", ".", ".", "."]),
        (
            "-leading and trailing- 'quotes'",
            ["-", "leading", "and", "trailing", "-", "'", "quotes", "'"],
        ),
        ("über café\n\tnaïve", ["über", "café", "naïve"]),
    ],
)
def test_word_pattern_cuts_words_numbers_and_punctuation(text, tokens):
    assert WordTokenizer.from_vocab([]).tokenize(text) == tokens


def test_word_vocab_order_is_count_then_alphabetical():
    tok = WordTokenizer.train(["b a c a b a", "d"])
    counts = Counter(["b", "a", "c", "a", "b", "a", "d"])
    expected = sorted(counts, key=lambda w: (-counts[w], w))
    assert tok.vocab[3:] == expected


def test_word_min_count_maps_rare_words_to_unk():
    tok = WordTokenizer.train(["the cat", "the dog", "the cat"], min_count=2)
    assert "dog" not in tok.token_to_id
    assert tok.tokenize("the dog") == ["the", "dog"]  # tokenize keeps the word as it is
    assert tok.encode("the dog") == [tok.token_to_id["the"], tok.unk_id]
    assert tok.decode(tok.encode("the dog")) == "the <unk>"


def test_word_lowercase():
    tok = WordTokenizer.train(["The Cat", "the cat"], lowercase=True)
    assert tok.lowercase
    assert "The" not in tok.token_to_id and "the" in tok.token_to_id
    assert tok.encode("THE CAT") == tok.encode("the cat")
    cased = WordTokenizer.train(["The Cat", "the cat"])
    assert cased.encode("The") != cased.encode("the")


def test_word_max_size_keeps_the_most_frequent():
    tok = WordTokenizer.train(["a a a b b c"], max_size=5)
    assert tok.vocab[3:] == ["a", "b"]


@pytest.mark.parametrize(
    "text",
    [
        "i love cats.",
        "hello, world!",
        "(see the notes) and [this].",
        "yes: no; maybe?",
        "don't stop - state-of-the-art, 3.14%.",
    ],
)
def test_word_round_trip_of_canonical_text(text):
    tok = WordTokenizer.train([text])
    assert tok.decode(tok.encode(text)) == text


_WORDY = st.lists(
    st.sampled_from(list("ab cZ9'’-_.,;:!?()[]{}\"“”‘<>/\n\t%…¿¡") + ["<unk>", "<UNK>", "é"]),
    max_size=40,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(text=_WORDY, lowercase=st.booleans())
def test_word_decode_encode_is_idempotent(text, lowercase):
    tok = WordTokenizer.train(["a b c ' - . , ( ) < >", text], lowercase=lowercase, min_count=1)
    rare = WordTokenizer.train(["a b"], lowercase=lowercase)  # most of text becomes <unk>
    for t in (tok, rare):
        once = t.decode(t.encode(text))
        assert t.decode(t.encode(once)) == once
        assert t.encode(once) == t.encode(text)


# ------------------------------------------------------------------ char
@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=60))
def test_char_round_trip_of_any_text_in_vocab(text):
    tok = CharTokenizer.train([text, "x"])
    assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode(text)) == len(text)


def test_char_min_count_lowercase_and_vocab_order():
    tok = CharTokenizer.train(["abca", "ab"], min_count=2)
    assert tok.vocab[3:] == ["a", "b"]  # c seen once
    assert tok.encode("cab") == [tok.unk_id, 3, 4]
    lower = CharTokenizer.train(["Ab\nba"], lowercase=True)
    assert lower.vocab[3:] == sorted(set("ab\nba"))
    assert lower.encode("AB") == lower.encode("ab")
    assert lower.token_text(lower.token_to_id["\n"]) == "\n"


# ------------------------------------------------------------------ BPE
@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=80))
def test_bpe_round_trip_of_arbitrary_text(bpe, text):
    ids = bpe.encode(text)
    assert bpe.unk_id not in ids
    assert bpe.decode(ids) == text
    assert "".join(bpe.tokenize(text)) == to_byte_symbols(text)


def test_bpe_special_token_strings_in_text_stay_text(bpe):
    text = "a <s> b </s> <unk>"
    ids = bpe.encode(text)
    assert not {0, 1, 2} & set(ids)
    assert bpe.decode(ids) == text


def test_bpe_token_text_reads_as_text(bpe):
    the_id = bpe.token_to_id["Ġthe"]
    assert bpe.vocab[the_id] == "Ġthe"
    assert bpe.token_text(the_id) == " the"
    assert bpe.token_text(bpe.token_to_id["Ċ"]) == "\n"
    assert bpe.token_text(bpe.eos_id) == "</s>"
    # a lone first byte of a two-byte character shows as its byte value
    first_byte = to_byte_symbols("é")[0]
    assert bpe.token_text(bpe.token_to_id[first_byte]) == "\\xc3"


def test_bpe_merges_are_in_learned_order_and_build_the_vocab(bpe):
    spec = json.loads(bpe.to_dict()["tokenizer_json"])
    assert [tuple(m) for m in spec["model"]["merges"]] == bpe.merges
    # a merge's result is a token, and its parts exist before it (earlier merge or byte symbol)
    made: set[str] = set()
    for left, right in bpe.merges:
        assert left + right in bpe.token_to_id
        assert len(left) == 1 or left in made
        assert len(right) == 1 or right in made
        made.add(left + right)
    assert len(bpe.vocab) == 3 + 256 + len({a + b for a, b in bpe.merges})


@pytest.mark.parametrize("word", ["the", " the", " watched", " state-of-the-art", "catmat"])
def test_bpe_merge_replay_reproduces_library_encoding(bpe, word):
    steps = bpe_merge_steps(word, bpe.merges)
    assert steps[0].pair is None and steps[0].symbols == tuple(to_byte_symbols(word))
    assert list(steps[-1].symbols) == bpe.tokenize(word)
    ranks = [s.rank for s in steps[1:]]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    for before, after in pairwise(steps):
        assert after.pair == bpe.merges[after.rank]
        assert len(after.symbols) == len(before.symbols) - after.count and after.count >= 1
        assert "".join(after.symbols) == "".join(before.symbols)


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=50))
def test_bpe_tokenizer_merge_steps_end_at_tokenize(bpe, text):
    steps = bpe.merge_steps(text)
    assert list(steps[-1].symbols) == bpe.tokenize(text)


@settings(max_examples=80, deadline=None)
@given(text=st.text(alphabet=string.printable, max_size=50))
def test_pure_python_split_matches_library_on_ascii(bpe, text):
    assert bpe_merge_steps(text, bpe.merges)[0].words == tuple(
        tuple(piece) for piece in bpe.pretokenize(text)
    )


def test_bpe_lowercase():
    tok = BPETokenizer.train(ENGLISH, vocab_size=300, lowercase=True)
    assert tok.lowercase
    assert tok.encode("THE CAT") == tok.encode("the cat")
    assert tok.decode(tok.encode("The Cat")) == "the cat"
    assert list(tok.merge_steps("The Cat")[-1].symbols) == tok.tokenize("The Cat")


def test_bpe_min_count_stops_merging_rare_pairs():
    many = BPETokenizer.train(["abcd xyzw"], vocab_size=400, min_count=1)
    none = BPETokenizer.train(["abcd xyzw"], vocab_size=400, min_count=2)
    assert many.merges and not none.merges
    assert len(none) == 3 + 256


def test_byte_symbols_round_trip():
    text = "naïve 😀\n\t x"
    assert from_byte_symbols(to_byte_symbols(text)) == text
    assert to_byte_symbols(" \n") == "ĠĊ"


# ------------------------------------------------------------------ learn_bpe
def _pair_counts(corpus):
    counts: Counter = Counter()
    for symbols, freq in corpus:
        for pair in pairwise(symbols):
            counts[pair] += freq
    return counts


def test_learn_bpe_on_the_hug_corpus_by_hand():
    corpus = {"hug": 10, "pug": 5, "pun": 12, "bun": 4, "hugs": 5}
    steps = learn_bpe(corpus, 3)
    # u+g occurs in hug, pug, hugs: 10 + 5 + 5 = 20, more than any other pair
    assert steps[0].pair == ("u", "g") and steps[0].count == 20
    assert steps[0].vocab == (*sorted(set("hugpunbs")), "ug")
    # then u+n: pun, bun = 16; then h+ug: hug, hugs = 15
    assert [(s.pair, s.count) for s in steps[1:]] == [(("u", "n"), 16), (("h", "ug"), 15)]
    assert dict(steps[-1].corpus)[("hug", "s")] == 5
    assert steps[-1].merged == "hug"


def test_learn_bpe_picks_a_most_frequent_pair_each_step():
    words = ["low", "lower", "lowest", "newer", "newest", "wider", "widest", "new", "low", "low"]
    corpus = [(tuple(w), c) for w, c in Counter(words).items()]
    for step in learn_bpe(words, 12):
        counts = _pair_counts(corpus)
        assert counts[step.pair] == step.count == max(counts.values())
        corpus = list(step.corpus)


def test_learn_bpe_stops_when_every_word_is_one_symbol_and_checks_arguments():
    steps = learn_bpe(["ab ab", "abc"], 10)
    assert [s.merged for s in steps] == ["ab", "abc"]
    with pytest.raises(ValueError, match="num_merges"):
        learn_bpe(["ab"], -1)
    with pytest.raises(ValueError, match="corpus_words"):
        learn_bpe({"ab": 0}, 1)


def test_learn_bpe_agrees_with_the_library_trainer():
    texts = ENGLISH + list(TOY_CORPUS) * 2
    trained = BPETokenizer.train(texts, vocab_size=3 + 256 + 40)
    pieces = Counter(p for text in texts for p in trained.pretokenize(text))
    ours = learn_bpe(dict(pieces), len(trained.merges))
    assert [s.pair for s in ours] == trained.merges


def test_learn_bpe_merges_replay_with_bpe_merge_steps():
    steps = learn_bpe({"hug": 10, "pug": 5, "pun": 12, "bun": 4, "hugs": 5}, 3)
    merges = [s.pair for s in steps]
    replay = bpe_merge_steps("hugs bun", merges, byte_level=False)
    assert replay[0].words == (tuple("hugs"), tuple("bun"))
    assert replay[-1].words == (("hug", "s"), ("b", "un"))


# ------------------------------------------------------------------ save / load
@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_save_load_round_trip(tmp_path, kind):
    tok = make_tokenizer(kind, ENGLISH, lowercase=True)
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    loaded = load_tokenizer(path)
    assert type(loaded) is type(tok) and loaded.lowercase
    assert loaded.vocab == tok.vocab
    sample = "The Cat watched 3.14 mice; naïve dogs!\n"
    assert loaded.encode(sample) == tok.encode(sample)
    assert loaded.decode(tok.encode(sample)) == tok.decode(tok.encode(sample))
    assert load_tokenizer(tmp_path).vocab == tok.vocab  # a model directory works too
    assert tokenizer_from_dict(tok.to_dict()).vocab == tok.vocab
    if kind == "bpe":
        assert loaded.merges == tok.merges


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ('{"kind": "sentencepiece"}', "unknown tokenizer kind"),
        ('{"kind": "word", "vocab": ["a", "<s>", "</s>"]}', "must start with"),
        ('{"kind": "word", "vocab": ["<unk>", "<s>", "</s>", "x", "x"]}', "appears twice"),
        ('{"kind": "char", "vocab": ["<unk>", "<s>", "</s>", "xy"]}', "not one character"),
        ('{"kind": "word"}', "list of strings"),
        ('{"kind": "bpe", "tokenizer_json": "{}"}', "bpe tokenizer"),
        ('{"kind": "word", "format_version": 99, "vocab": []}', "format_version"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_load_rejects_corrupt_files_naming_them(tmp_path, content, fragment):
    path = tmp_path / "tok.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelLoadError, match=fragment) as info:
        load_tokenizer(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_load_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="not found") as info:
        load_tokenizer(tmp_path / "nope.json")
    assert str(info.value).startswith(str(tmp_path / "nope.json"))


def test_load_rejects_a_bpe_file_with_wrong_special_ids(tmp_path, bpe):
    spec = json.loads(bpe.to_dict()["tokenizer_json"])
    vocab = spec["model"]["vocab"]
    vocab["<unk>"], vocab["!"] = vocab["!"], vocab["<unk>"]
    spec["added_tokens"][0]["id"] = vocab["<unk>"]
    path = tmp_path / "tok.json"
    path.write_text(json.dumps({"kind": "bpe", "tokenizer_json": json.dumps(spec)}), "utf-8")
    with pytest.raises(ModelLoadError, match="ids 0, 1, 2"):
        load_tokenizer(path)


# ------------------------------------------------------------------ import weight
def test_char_and_word_do_not_import_the_tokenizers_library():
    code = (
        "import sys\n"
        "from arlm_tui.text import make_tokenizer, TOY_CORPUS\n"
        "make_tokenizer('word', TOY_CORPUS); make_tokenizer('char', TOY_CORPUS)\n"
        "assert 'tokenizers' not in sys.modules\n"
        "assert 'textual' not in sys.modules and 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
