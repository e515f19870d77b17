"""Choosing how to run a model here: int8 and runtime candidates judged against fp32 by the
station's own verdicts (above detect and patterns: it needs both)."""
