"""Reusable widgets of the play screen; each module holds one widget with its DEFAULT_CSS."""
