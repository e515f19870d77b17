"""Exactly which model and which pattern set judged a part: short content hashes for the log.

A file name says little in an audit (the same name may hold a retrained model); the hash
of the bytes that were loaded does. Pattern sets are hashed by content (variants, slots,
min scores), so re-saving the same pattern with other formatting keeps its hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from inspection_station.core.patterns.model import PatternSet

SHORT = 12  # hex digits shown in the CSV: 48 bits, plenty to tell versions of one station apart
# The model's file hash is the Detector's own (`Detector.model_sha256`, detect/session_cache.py).


def pattern_set_hash(pattern_set: PatternSet) -> str:
    """Full SHA-256 of a pattern set's content in a canonical JSON form (name and path excluded)."""
    content = {
        "variants": {
            name: [dataclasses.asdict(slot) for slot in slots] for name, slots in pattern_set.variants.items()
        },
        "min_scores": {str(k): v for k, v in sorted(pattern_set.min_scores.items())},
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def short(digest: str) -> str:
    return digest[:SHORT]
