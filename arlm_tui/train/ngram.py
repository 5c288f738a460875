"""``arlm train ngram``: tokenize a corpus, fit an n-gram model, save it with its card.

A corpus file is cut into sentences one per line or at sentence punctuation (``sentences``; by
default detected, see ``corpora.detect_sentence_reading``). Sentences are held out only when
asked (``valid_fraction``) or when the smoothing needs held-out text (``interp`` fits its
weights on a tenth of the sentences): every other method counts the whole corpus, so the
lecture's toy corpus gives the lecture's numbers. The held-out part gives the held-out
perplexity that the card reports, when there is one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from arlm_tui.errors import ArlmError
from arlm_tui.lm.information import perplexity

#: Sentences counted between two redraws of the progress bar, and the size from which it shows.
PROGRESS_MIN_SENTENCES = 20_000
#: The share of sentences held out by default for a smoothing that needs held-out text.
DEFAULT_VALID_FRACTION = 0.1
#: Smoothings whose fit needs held-out sentences (interpolation weights by EM).
NEEDS_HELDOUT = ("interp",)
#: ``sentences`` values: how a corpus file is cut (None = detect).
SENTENCE_UNITS = {None: "auto", "lines": "line", "punctuation": "sentence"}


def build_tokenizer(kind: str, texts: list[str], *, min_count: int, lowercase: bool, vocab_size: int):
    from arlm_tui.text.tokenizers import make_tokenizer

    if kind == "bpe":
        return make_tokenizer("bpe", texts, vocab_size=vocab_size, min_count=min_count)
    return make_tokenizer(kind, texts, min_count=min_count, lowercase=lowercase)


def train_ngram(
    *,
    corpus: str,
    out_dir: str | Path,
    order: int = 3,
    smoothing: str = "kn",
    k: float = 1.0,
    tokenizer_kind: str = "word",
    min_count: int = 1,
    lowercase: bool = False,
    bpe_vocab_size: int = 2000,
    valid_fraction: float | None = None,
    sentences: str | None = None,
    seed: int = 0,
    name: str | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Fit and save; returns the summary written into ``config.json`` (plus ``path`` and
    ``sentences``, how a corpus file was cut: a ``SentenceReading``, None for a built-in corpus).

    ``valid_fraction`` None holds out ``DEFAULT_VALID_FRACTION`` of the sentences for a
    smoothing in ``NEEDS_HELDOUT`` and none for the others; ``sentences`` is ``"lines"``,
    ``"punctuation"`` or None (detect)."""
    from arlm_tui.api import score_ids
    from arlm_tui.corpus_spec import load_corpus_spec
    from arlm_tui.lm.card import write_card
    from arlm_tui.lm.ngram import NGramModel
    from arlm_tui.lm.registry import write_summary
    from arlm_tui.progress import ProgressBar
    from arlm_tui.text.corpora import train_valid_split

    if not 1 <= order <= 5:
        raise ArlmError(f"--order {order}: the order must be from 1 to 5")
    if valid_fraction is None:
        valid_fraction = DEFAULT_VALID_FRACTION if smoothing in NEEDS_HELDOUT else 0.0
    if not 0.0 <= valid_fraction < 1.0:
        raise ArlmError(f"--valid-fraction {valid_fraction}: must be at least 0 and below 1")
    if sentences not in SENTENCE_UNITS:
        raise ArlmError(f"--sentences {sentences}: must be lines or punctuation")
    if k <= 0:
        raise ArlmError(f"--k {k}: must be > 0")
    started = time.perf_counter()
    source = load_corpus_spec(corpus, unit=SENTENCE_UNITS[sentences], seed=seed)
    texts = source.texts
    if valid_fraction > 0 and len(texts) >= 2:
        train_texts, valid_texts = train_valid_split(texts, valid_fraction, seed=seed)
    else:
        train_texts, valid_texts = list(texts), []
    tokenizer = source.tokenizer or build_tokenizer(
        tokenizer_kind, train_texts, min_count=min_count, lowercase=lowercase, vocab_size=bpe_vocab_size
    )
    train_ids = [tokenizer.encode(t) for t in train_texts]
    valid_ids = [tokenizer.encode(t) for t in valid_texts]
    if not any(train_ids):
        raise ArlmError(f"{corpus}: the corpus has no tokens to count")

    bar = None
    if not quiet and len(train_ids) >= PROGRESS_MIN_SENTENCES:
        bar = ProgressBar("counting n-grams", len(train_ids))
    model = NGramModel.fit(
        train_ids,
        tokenizer,
        order=order,
        smoothing=smoothing,
        k=k,
        valid=valid_ids or None,
        name=name or Path(out_dir).name,
        progress=(lambda done, total: bar.update(done)) if bar else None,
    )
    if bar:
        bar.close()
    fit_seconds = time.perf_counter() - started

    heldout_ppl = None
    heldout_tokens = sum(len(ids) + 1 for ids in valid_ids)
    if valid_ids and model.normalized:
        nll = -sum(float(score_ids(model, ids).sum()) for ids in valid_ids)
        heldout_ppl = perplexity(nll, heldout_tokens)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out)
    facts = model.describe()
    parameters = int(sum(facts.get("ngrams", {}).values())) or None
    summary = {
        "corpus": source.description,
        "parameters": parameters,
        "heldout_perplexity": heldout_ppl,
        "heldout_tokens": heldout_tokens,
        "train_texts": len(train_texts),
        "train_tokens": sum(len(ids) + 1 for ids in train_ids),
        "training_seconds": round(fit_seconds, 3),
    }
    write_summary(out, summary, tokenizer=getattr(tokenizer, "kind", tokenizer_kind))
    write_card(
        out,
        f"n-gram model: order {order}, {smoothing}",
        {
            "backend": "ngram (numpy)",
            "corpus": source.description,
            "tokenizer": f"{getattr(tokenizer, 'kind', tokenizer_kind)}, {len(tokenizer.vocab)} tokens",
            "training texts": len(train_texts),
            "training tokens (incl. </s>)": summary["train_tokens"],
            "n-grams stored (parameters)": parameters,
            "sentences": "n/a" if source.reading is None else source.reading.describe(),
            "held-out texts": len(valid_texts),
            "held-out perplexity": "n/a" if heldout_ppl is None else heldout_ppl,
            "training time (s)": round(fit_seconds, 2),
        },
        notes=(
            "Counts are stored in ngrams.safetensors; probabilities are recomputed from them at "
            "load. Held-out perplexity scores every token of each held-out text, then </s>."
        ),
    )
    return summary | {"path": str(out), "sentences": source.reading}
