"""The Textual interface of arlm: the home screen, the play screen and their widgets.

Nothing here computes a probability: screens ask the engine (``arlm_tui.decoding``,
``arlm_tui.lm``) for Traces and draw them. Start it with ``arlm_tui.tui.app.run_app()``.
"""
