"""The data root's permissions on Windows (icacls), set by the installer.

- Administrators and SYSTEM (the `serve` service): full control.
- Users (the operator accounts the station runs under): read everything; create files and
  folders; append to files; change or delete only what their own account created
  (CREATOR OWNER). So operators add records but cannot rewrite or remove the others'.
- Engineers and administrators of the *station* are the app's own roles (accounts.json):
  the app, not Windows, decides who may change settings and patterns.
"""

from __future__ import annotations

ADMINISTRATORS = "*S-1-5-32-544"
SYSTEM = "*S-1-5-18"
USERS = "*S-1-5-32-545"
CREATOR_OWNER = "*S-1-3-0"

# (who, inheritance + rights), in icacls' notation: OI files, CI folders, IO inherit only.
GRANTS = (
    (ADMINISTRATORS, "(OI)(CI)F"),
    (SYSTEM, "(OI)(CI)F"),
    (USERS, "(OI)(CI)RX"),  # read and list
    (USERS, "(CI)(WD,AD,WEA,WA)"),  # on folders: create files, create folders
    (USERS, "(OI)(IO)(AD,WEA,WA)"),  # on files: append
    (CREATOR_OWNER, "(OI)(CI)(IO)M"),  # what an account made, it may change and delete
)


def data_root_commands(root: str, icacls: str = "icacls") -> list[list[str]]:
    """Replace the root's ACL by GRANTS (inheritance from ProgramData cut), then make what is
    already inside (an upgrade, moved 0.1 data) inherit it."""
    first, rest = GRANTS[:3], GRANTS[3:]
    return [
        [icacls, root, "/inheritance:r", "/grant:r", *(f"{who}:{rights}" for who, rights in first), "/C", "/Q"],
        [icacls, root, "/grant", *(f"{who}:{rights}" for who, rights in rest), "/C", "/Q"],
        [icacls, f"{root}\\*", "/reset", "/T", "/C", "/Q"],
    ]
