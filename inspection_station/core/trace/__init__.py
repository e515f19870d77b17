"""Traceability: which part each cycle inspected (typed, scanned or decoded id)."""
