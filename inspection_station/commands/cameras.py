"""`inspection-station cameras`: the pylon devices this machine sees, emulated ones included."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cameras", help="list Basler cameras (and the pylon emulator)")
    p.add_argument("--json", action="store_true", help="one JSON object per device and line")
    p.add_argument(
        "--no-emulation",
        action="store_true",
        help="do not switch the pylon camera emulator on (PYLON_CAMEMU) when it is not set",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.core.camera.discovery import list_devices

    devices = list_devices(emulation=not args.no_emulation)
    if args.json:
        for d in devices:
            record = {
                "model": d.model,
                "serial": d.serial,
                "ip_address": d.ip_address,
                "device_class": d.device_class,
                "emulated": d.emulated,
            }
            print(json.dumps(record))
        return 0
    if not devices:
        print("no cameras found")
        return 0
    rows = [("MODEL", "SERIAL", "IP ADDRESS", "CLASS", "EMULATED")]
    rows += [
        (d.model, d.serial, d.ip_address or "-", d.device_class, "yes" if d.emulated else "no")
        for d in devices
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0
