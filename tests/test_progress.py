"""The command-line progress bar (``arlm_tui.progress``): rich on a terminal, plain lines else."""

from __future__ import annotations

import io

from arlm_tui.progress import ProgressBar


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_a_few_plain_lines_and_the_summary():
    stream = io.StringIO()
    bar = ProgressBar("counting n-grams", 1000, stream=stream)
    for done in range(0, 1001, 7):
        bar.update(done, extra="x")
    bar.update(1000)
    bar.log("a note")
    bar.close("(3 n-grams)")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "counting n-grams: 0% x"
    assert lines[-3:-1] == ["counting n-grams: 100%", "a note"]
    assert len(lines) == 13  # 0%, 10%, ..., 100%, the note, the summary
    assert "\x1b" not in stream.getvalue() and "\r" not in stream.getvalue()
    assert lines[-1].startswith("counting n-grams: done in ") and lines[-1].endswith("(3 n-grams)")


def test_a_terminal_gets_a_rich_bar_redrawn_in_place_then_removed():
    stream = FakeTTY()
    bar = ProgressBar("counting n-grams", 200, stream=stream, refresh_seconds=0)
    bar.update(50, extra="loss 2.5")
    bar.log("epoch 1 done")
    bar.update(200)
    bar.close()
    text = stream.getvalue()
    assert "━" in text and " 25%" in text and "100%" in text and "loss 2.5" in text
    assert "\r\x1b[2K" in text  # the line is erased and drawn again
    assert "epoch 1 done\n" in text  # a logged line stays
    last = text.rsplit("\x1b[2K", 1)[-1]  # after the bar is erased: the summary alone
    assert last.startswith("counting n-grams: done in ") and last.count("\n") == 1
