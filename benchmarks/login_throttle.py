"""How far a password guesser gets: wrong passwords back to back against a real account store.

    python benchmarks/login_throttle.py [--tries 9]

Prints how many attempts were really checked (scrypt) and how many were refused by the
growing delay, the time it took, and the audit lines written (one per attempt).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from inspection_station.core.settings.accounts import AccountStore, LoginRefused
from inspection_station.core.settings.audit import AuditLog
from inspection_station.core.settings.model import AccessSettings
from inspection_station.core.settings.session import AccessControl


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=9)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    control = AccessControl(AccountStore(folder / "accounts.json"), AuditLog(folder / "audit.jsonl"),
                            AccessSettings(), "bench")
    control.store.add("eve", "engineer", "right-password")
    outcomes = []
    start = time.perf_counter()
    for i in range(args.tries):
        try:
            control.login("eve", f"guess-{i}")
        except LoginRefused as exc:
            outcomes.append("locked" if exc.locked else "throttled" if exc.retry_after_s and "wait" in str(exc)
                            else "checked")
    elapsed = time.perf_counter() - start
    lines = len((folder / "audit.jsonl").read_text(encoding="utf-8").splitlines())
    print(f"{args.tries} wrong passwords back to back: {elapsed:.2f} s; "
          f"checked {outcomes.count('checked')}, refused by the delay {outcomes.count('throttled')}, "
          f"locked {outcomes.count('locked')}; audit lines {lines}")
    policy = control.store.policy
    waits = [policy.delay_after(n) for n in range(1, policy.max_failed)]
    print(f"fastest path to the lockout ({policy.max_failed} checked guesses): waits {waits} s = {sum(waits):g} s; "
          "then only an admin unlocks")


if __name__ == "__main__":
    main()
