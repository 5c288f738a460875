"""``python -m arlm_tui.cli`` runs the same entry point as ``arlm`` (and ``python -m arlm_tui``)."""

from arlm_tui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
