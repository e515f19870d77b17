"""Patterns: the model, YAML I/O (the old system's format), matching, teaching, drafts, the library."""
