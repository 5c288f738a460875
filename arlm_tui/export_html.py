"""A decoding session as one self-contained HTML page, to put on a slide or send to a class.

``session_page(session)`` returns the page: the text with each generated token shaded by the
probability the model gave it, then one block per step with bars for the model's probability,
the probability after temperature and the final probability (tokens a processor removed are
struck through and say which processor removed them), the one-line reason for the choice, and
the running NLL = -Σ log p and perplexity = exp(NLL / T). Styles are inline; the page has no
scripts and loads nothing from the network.

``write_session_page`` writes it to a file (a temporary name, then renamed into place);
``load_session_file`` replays a session saved by the play screen (ctrl+s) with its model.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np

from arlm_tui.decoding.explain import explain
from arlm_tui.decoding.processors import TRUNCATOR_NAMES
from arlm_tui.decoding.session import Session
from arlm_tui.decoding.trace import Trace
from arlm_tui.errors import ArlmError
from arlm_tui.numbers import fmt_fixed, fmt_prob

#: A saved session larger than this is refused before it is read.
MAX_SESSION_BYTES = 64 * 1024 * 1024
#: Rows of bars shown for each step (the chosen token is added when it is not among them).
ROWS_PER_STEP = 10
#: Processors that cut tokens away; temperature runs before all of them.
_TRUNCATORS = TRUNCATOR_NAMES
#: Lower bounds of the probability shades of the text (as on the play screen), with colours.
SHADES: tuple[tuple[float, str, str], ...] = (
    (0.5, "#d9f2d9", "≥ .5"),
    (0.2, "#a9dfa9", "≥ .2"),
    (0.05, "#ffe08a", "≥ .05"),
    (0.01, "#ffb38a", "≥ .01"),
    (0.0, "#ff7b7b", "< .01"),
)

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.meta, .legend, .why, .running { color: #555; }
.text { font-family: ui-monospace, monospace; font-size: 1.1em; line-height: 1.9;
        white-space: pre-wrap; border: 1px solid #ccc; padding: .6em; }
.prompt { color: #666; }
.tok { border-radius: 3px; padding: 0 1px; }
.forced { text-decoration: underline; }
.chip { font-family: ui-monospace, monospace; padding: 0 .4em; border-radius: 3px; }
.step { border-top: 1px solid #ddd; padding-top: .4em; margin-top: .8em; }
table.bars { border-collapse: collapse; font-size: .9em; }
table.bars td, table.bars th { padding: 1px 6px; text-align: left; vertical-align: middle; }
table.bars td.num { text-align: right; font-family: ui-monospace, monospace; }
.tokcell { font-family: ui-monospace, monospace; white-space: pre; }
.track { display: inline-block; width: 9em; height: .8em; background: #f1f1f1; }
.fill { display: block; height: 100%; }
.raw .fill { background: #6c8ebf; } .temp .fill { background: #9673a6; }
.final .fill { background: #2e9e5b; }
tr.removed td { color: #999; } tr.removed .tokcell { text-decoration: line-through; }
tr.removed .fill { opacity: .35; }
tr.chosen td { font-weight: bold; }
.why { font-style: italic; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def shade_of(prob: float) -> int:
    """Index into SHADES: 0 for p ≥ 0.5 ... 4 for p < 0.01."""
    for index, (bound, _, _) in enumerate(SHADES):
        if prob >= bound:
            return index
    return len(SHADES) - 1


def after_temperature(trace: Trace) -> np.ndarray:
    """The distribution right after the temperature processor: its stage when there is one,
    otherwise the last stage before any truncation (temperature 1 changes nothing)."""
    probs = trace.stages[0].probs
    for stage in trace.stages[1:]:
        if stage.name in _TRUNCATORS:
            break
        probs = stage.probs
        if stage.name == "temperature":
            break
    return probs


def _bar(cls: str, p: float) -> str:
    width = min(max(float(p), 0.0), 1.0) * 100
    return (f'<td class="{cls}"><span class="track"><span class="fill" '
            f'style="width:{width:.1f}%"></span></span></td><td class="num">{fmt_prob(p)}</td>')


def _step_rows(trace: Trace) -> list[str]:
    rows = trace.top(ROWS_PER_STEP)
    if not any(row["chosen"] for row in rows):  # a sampled or forced token further down
        chosen = trace.chosen_id
        rows.append({"id": chosen, "text": trace.text_of(chosen), "rank": trace.chosen_rank,
                     "raw_prob": float(trace.raw_probs[chosen]),
                     "final_prob": float(trace.final_probs[chosen]),
                     "removed_by": trace.removed_by.get(chosen), "chosen": True})
    temp = after_temperature(trace)
    out = []
    for row in rows:
        classes = []
        if row["removed_by"]:
            classes.append("removed")
        if row["chosen"]:
            classes.append("chosen")
        mark = "▶" if row["chosen"] else ""
        removed = (f"removed by {row['removed_by'].replace('_', '-')}"
                   if row["removed_by"] else "")
        token = row["text"].replace("\n", "⏎") or "∅"
        out.append(
            f'<tr class="{" ".join(classes)}"><td>{mark}</td><td class="num">{row["rank"]}</td>'
            f'<td class="tokcell">{_e(token)}</td>'
            f'{_bar("raw", row["raw_prob"])}{_bar("temp", float(temp[row["id"]]))}'
            f'{_bar("final", row["final_prob"])}<td>{_e(removed)}</td></tr>'
        )
    return out


def _step_block(trace: Trace, index: int, token_text: Any) -> str:
    rows = "\n".join(_step_rows(trace))
    chosen = trace.text_of(trace.chosen_id).replace("\n", "⏎")
    return f"""<section class="step" id="step-{index}">
<h3>Step {index}: {_e(repr(chosen))}</h3>
<p class="why">{_e(explain(trace, token_text))}</p>
<table class="bars">
<tr><th></th><th>rank</th><th>token</th><th colspan="2">model p</th>
<th colspan="2">after temperature</th><th colspan="2">final</th><th></th></tr>
{rows}
</table>
<p class="running">entropy {fmt_fixed(trace.entropy, 2)} nats (≈{fmt_fixed(trace.effective_choices, 1)}
effective choices) · running NLL {fmt_fixed(trace.nll)} nats over {trace.num_tokens} tokens ·
perplexity {fmt_fixed(trace.perplexity, 2)}</p>
</section>"""


def running_chart(traces: list[Trace], width: int = 640, height: int = 160) -> str:
    """An inline SVG: each step's surprisal -log p(token) as bars and the running perplexity
    exp(NLL / T) as a line, both in nats on one axis ("" when there is nothing to draw)."""
    points = [(-t.logprob, t.perplexity) for t in traces]
    points = [(s, p) for s, p in points if math.isfinite(s) and math.isfinite(p)]
    if len(points) < 2:
        return ""
    top = max(max(s for s, _ in points), max(math.log(p) for _, p in points), 1e-9)
    left, bottom = 36, 18
    plot_w, plot_h = width - left - 8, height - bottom - 8
    step = plot_w / len(points)

    def y(v: float) -> float:
        return 8 + plot_h * (1 - v / top)

    bars = "".join(
        f'<rect x="{left + i * step + step * 0.15:.1f}" y="{y(s):.1f}" '
        f'width="{step * 0.7:.1f}" height="{8 + plot_h - y(s):.1f}" fill="#ffb38a">'
        f'<title>step {i + 1}: -log p = {s:.2f}</title></rect>'
        for i, (s, _) in enumerate(points))
    line = " ".join(f"{left + (i + 0.5) * step:.1f},{y(math.log(p)):.1f}"
                    for i, (_, p) in enumerate(points))
    return f"""<svg class="chart" width="{width}" height="{height}" role="img"
 aria-label="surprisal per step and running log-perplexity">
<line x1="{left}" y1="{8 + plot_h}" x2="{width - 8}" y2="{8 + plot_h}" stroke="#999"/>
<line x1="{left}" y1="8" x2="{left}" y2="{8 + plot_h}" stroke="#999"/>
<text x="{left - 4}" y="14" font-size="11" text-anchor="end">{top:.1f}</text>
<text x="{left - 4}" y="{8 + plot_h}" font-size="11" text-anchor="end">0</text>
<text x="{left + plot_w / 2:.0f}" y="{height - 3}" font-size="11" text-anchor="middle">step</text>
{bars}
<polyline points="{line}" fill="none" stroke="#2e6fbf" stroke-width="2"/>
</svg>
<p class="legend"><span class="chip" style="background:#ffb38a">bars</span> surprisal
−log p of each chosen token (nats) · <span style="color:#2e6fbf">line</span> running
log-perplexity = NLL / T, whose exponential is the perplexity.</p>"""


def session_page(session: Session, *, title: str | None = None) -> str:
    """The session as a complete HTML document (a string)."""
    from arlm_tui.decoding.snapshot import generated_probs, text_pieces

    model = session.model
    generated = session.generated_ids
    prompt_text, pieces = text_pieces(model.tokenizer, session.prompt_ids, generated,
                                      model.eos_id)
    probs = generated_probs(session)
    traces = session.traces
    forced = [t.forced for t in traces] if len(traces) == len(generated) else []
    spans = [f'<span class="prompt">{_e(prompt_text)}</span>']
    for i, piece in enumerate(pieces):
        p = probs[i] if i < len(probs) else 1.0
        lead = len(piece) - len(piece.lstrip(" "))
        colour = SHADES[shade_of(p)][1]
        cls = "tok forced" if i < len(forced) and forced[i] else "tok"
        spans.append(
            f'{_e(piece[:lead])}<span class="{cls}" style="background:{colour}" '
            f'title="p = {fmt_prob(p)}">{_e(piece[lead:])}</span>'
        )
    legend = " ".join(f'<span class="chip" style="background:{colour}">{_e(label)}</span>'
                      for _, colour, label in SHADES)
    config = session.config
    knobs = ", ".join(f"{k.replace('_', '-')} = {v}" for k, v in config.active_knobs().items()
                      if k != "strategy") or "no processors"
    title = title or f"arlm session: {model.name}, {config.strategy}"
    token_text = getattr(model.tokenizer, "token_text", None)
    steps = "\n".join(_step_block(t, i, token_text) for i, t in enumerate(traces, start=1))
    summary = (f"{session.num_tokens} tokens · NLL {fmt_fixed(session.nll)} nats · perplexity "
               f"{fmt_fixed(session.perplexity, 2)} · {fmt_fixed(session.bits_per_token, 2)} bits per token")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="arlm">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{_e(title)}</h1>
<p class="meta">model <b>{_e(model.name)}</b> ({_e(model.backend)}) · strategy
<b>{_e(config.strategy)}</b> · {_e(knobs)}</p>
<h2>The text</h2>
<div class="text" id="text">{"".join(spans)}</div>
<p class="legend">Each generated token is shaded by the probability the model gave it:
{legend} · underlined: forced by the learner.</p>
<p class="running" id="summary">{_e(summary)}</p>
{running_chart(traces)}
<h2>Step by step</h2>
<p class="legend">For each step, the most probable next tokens: the model's probability, after
temperature, and the final probability the choice was made from. Struck-through tokens were
removed by a processor; ▶ marks the choice.</p>
{steps or "<p>No steps yet.</p>"}
</body>
</html>
"""


def write_session_page(session: Session, path: str | Path) -> Path:
    """Write ``session_page(session)`` to ``path`` through a temporary file; returns the path."""
    target = Path(path).expanduser()
    page = session_page(session)
    from arlm_tui.outputs import write_text

    target.parent.mkdir(parents=True, exist_ok=True)
    write_text(target, page)
    return target


def load_session_file(path: str | Path) -> Session:
    """Replay a session saved as JSON by the play screen; ArlmError (one line) if the file
    cannot be used."""
    from arlm_tui.decoding.session import ReplayError
    from arlm_tui.lm.registry import load_model

    source = Path(path).expanduser()
    if not source.is_file():
        raise ArlmError("no such session file (or not a regular file)", path=source)
    if source.stat().st_size > MAX_SESSION_BYTES:
        raise ArlmError(f"session file is larger than {MAX_SESSION_BYTES // 2**20} MiB",
                        path=source)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArlmError(f"cannot read the session file: {exc}", path=source) from None
    try:
        return Session.from_json(text, model_loader=load_model)
    except ArlmError as exc:
        if isinstance(exc, ReplayError):
            raise ArlmError(str(exc), path=source) from None
        raise
    except RecursionError:
        raise ArlmError("session file is nested too deeply", path=source) from None
