"""The play screen's keys and its paragraph in the help screen: data, read by ``PlayScreen``.

The help screen and the command palette are built from these bindings (their ids, keys,
descriptions and tooltips); which of them apply at a given moment is the screen's
``check_action`` (the +/−, d, c, < and > keys belong to some views only).
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

from arlm_tui.tui.play_lines import VIEWS

HELP_TEXT = (
    "[b]Play[/b]: the model proposes a distribution over the next token; the decoding knobs "
    "reshape it and a strategy picks one. The bars are live: they show the NEXT token's "
    "distribution and change as soon as a knob does, in three columns: the model's p, p after "
    "temperature and the penalties (what top-p, min-p and typical-p measure), and the final "
    "distribution after truncation; greyed rows were removed (the reason is given). Space takes "
    "a step (the why-line explains it), backspace takes it back; select a token in the text (t, "
    "←/→) to see its past step, esc returns to live. The timeline under the text shows each "
    "token's p and each step's entropy. Knobs change with ←/→ (shift: coarse) when the knob "
    "panel has the focus, or type a value with ⏎. P starts from a preset (llama.cpp, "
    "OpenAI-style or Hugging Face defaults); the bottom edge of the view reads the chain: the "
    "processors the knobs switch on, in the order they run (penalties, temperature, then the "
    "cuts; see the README's \"Processor order\").\n\n"
    "[b]Views[/b] (1–6, v cycles): 1 the next-token bars; 2 beam search (live hypotheses, their "
    "log p and score log p / length^α, pruned candidates, finished ones); 3 the same text under "
    "every installed model (c ticks which, < and > show the other columns), with KL(oracle ‖ "
    "model) when the oracle is installed and p of the token just chosen; 4 N "
    "continuations (+/− change N from 5 to 200): first-token histogram against p, distinct-n, "
    "repetition and NLL per strategy; 5 a transformer's attention for the last token; 6 "
    "speculative decoding, a draft proposing k tokens that the model keeps or replaces (+/− "
    "change k from 1 to 8, d picks another installed draft with the same vocabulary)."
)

BINDINGS: list[BindingType] = [
    Binding("space", "step", "Step", id="play.step", tooltip="take one decoding step"),
    Binding("backspace", "undo", "Undo", id="play.undo", tooltip="take back the last step"),
    Binding("r", "redo", "Redo", id="play.redo", tooltip="re-apply the step taken back"),
    Binding("f", "force_pick", "Force", id="play.force",
            tooltip="pick the next token yourself from the bars"),
    Binding("s", "pick_strategy", "Strategy", id="play.strategy",
            tooltip="choose the strategy: greedy, sample or beam"),
    Binding("m", "pick_model", "Model", id="play.model",
            tooltip="switch model (the text so far is kept)"),
    Binding("v", "next_view", "View", id="play.view",
            tooltip="next view: bars, beam, compare, sample-N, attention, speculative"),
    Binding("a", "autoplay", "Auto", id="play.autoplay",
            tooltip="start or pause autoplay (one step at a time)"),
    Binding("P", "pick_preset", "Preset", key_display="P", id="play.preset",
            tooltip="start from a preset (llama.cpp, OpenAI, Hugging Face defaults) and "
            "see the processor chain it sets"),
    Binding("q", "app.quit", "Quit", id="play.quit", tooltip="quit arlm"),
    Binding("F", "force_type", "Force typed", show=False, key_display="F",
            id="play.force_type", tooltip="type the next token yourself"),
    Binding("p", "edit_prompt", "Prompt", show=False, id="play.prompt",
            tooltip="edit the prompt (⏎ starts again from it)"),
    Binding("k", "focus_knobs", "Knobs", show=False, id="play.knobs",
            tooltip="focus the knob panel (←/→ adjust, ⏎ types a value)"),
    Binding("t", "select_tokens", "Tokens", show=False, id="play.tokens",
            tooltip="select generated tokens with ←/→ to see the step that chose each"),
    Binding("left_square_bracket", "speed(-1)", "Slower", show=False, key_display="[",
            id="play.slower", tooltip="slower autoplay"),
    Binding("right_square_bracket", "speed(1)", "Faster", show=False, key_display="]",
            id="play.faster", tooltip="faster autoplay"),
    Binding("R", "reset", "Reset", show=False, key_display="R", id="play.reset",
            tooltip="back to the prompt (same knobs)"),
    *(Binding(key, f"view('{view}')", title.capitalize(), show=False, id=f"play.view_{view}",
              tooltip=f"view: {title}") for view, title, key in VIEWS),
    # priority: the knob panel (which usually has the focus) also takes +/−; these win only
    # while the sample-N or speculative view is shown (see check_action)
    Binding("plus", "view_size(1)", "More", priority=True, key_display="+",
            id="play.view_more",
            tooltip="sample-N view: more continuations N; speculative view: draft more "
            "tokens k"),
    Binding("minus", "view_size(-1)", "Fewer", priority=True, key_display="−",
            id="play.view_fewer",
            tooltip="sample-N view: fewer continuations N; speculative view: draft fewer "
            "tokens k"),
    Binding("d", "next_draft", "Draft", id="play.draft",
            tooltip="speculative view: next draft model with the same vocabulary"),
    Binding("c", "choose_compared", "Models", id="play.compare_choose",
            tooltip="compare view: tick the models to compare"),
    Binding("greater_than_sign", "scroll_columns(1)", "Scroll right", key_display=">",
            id="play.columns_right",
            tooltip="compare, attention, speculative views: the next models, layers, lines"),
    Binding("less_than_sign", "scroll_columns(-1)", "Scroll left", key_display="<",
            id="play.columns_left",
            tooltip="compare, attention, speculative views: the previous models, layers, lines"),
    Binding("ctrl+s", "save", "Save", show=False, id="play.save",
            tooltip="save the session to a JSON file"),
    Binding("e", "export_page", "Page", show=False, id="play.page",
            tooltip="save the session as one HTML page (in the data directory)"),
    Binding("ctrl+o", "open", "Open", show=False, id="play.open",
            tooltip="open a saved session and replay it step by step"),
    Binding("escape", "back", "Back", show=False, id="play.back",
            tooltip="cancel forcing / token selection; else back to the home screen (the "
            "session is kept: Play takes it up again)"),
    Binding("ctrl+n", "new_play", "New", show=False, id="play.new",
            tooltip="a new play with the same model, prompt and a fresh seed"),
]
