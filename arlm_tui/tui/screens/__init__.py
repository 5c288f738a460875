"""One screen a module: home, play, help, settings, and the small dialogs."""
