"""Training commands: ``arlm train ngram`` (numpy) and the neural backends (torch)."""
