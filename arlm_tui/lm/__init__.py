"""Language-model backends behind one protocol (see ``arlm_tui.lm.base``)."""
