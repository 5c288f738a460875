"""``python -m arlm_tui`` runs the same entry point as the ``arlm`` command."""

from arlm_tui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
