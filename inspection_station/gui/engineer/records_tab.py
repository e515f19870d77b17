"""The settings dialog's "Access and records" tab: roles per action, part ids, image
retention and the log file. Forms are generated from the settings sections; the role
table is editable by an admin only (an engineer must not lower the bar for themselves)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from inspection_station.gui.engineer.settings_form import FieldSpec as F

ACCESS_FIELDS = [
    F("settings_role", "Settings need the role"),
    F("patterns_role", "Pattern editing needs"),
    F("product_switch_role", "Product switch needs", tooltip="operator = anyone at the station (audited)"),
    F("reset_shift_role", "Reset shift needs"),
    F("overrule_role", "Wrong verdict needs", tooltip="operator = anyone at the station (audited)"),
    F("hold_role", "Hold (refuse triggers) needs"),
    F("idle_lock_s", "Sign out after idle", suffix=" s", decimals=0),
    F("max_failed_logins", "Lock an account after failed logins"),
    F("login_delay_s", "Wait after a failed login", suffix=" s", decimals=1, tooltip="doubles per further failure"),
]
PART_ID_FIELDS = [
    F("source", "Part id from"),
    F("policy", "Part id is"),
    F("inspect_on_scan", "A scan also starts the inspection"),
    F("formats", "Code formats", tooltip="comma-separated, e.g. DataMatrix, QRCode, Code128"),
    F("region_x", "Code region x", decimals=3),
    F("region_y", "Code region y", decimals=3),
    F("region_width", "Code region width", decimals=3, tooltip="0 = to the right edge"),
    F("region_height", "Code region height", decimals=3, tooltip="0 = to the bottom edge"),
]
RETENTION_FIELDS = [
    F("max_age_days", "Delete archived images after", suffix=" days", tooltip="0 = keep"),
    F("quota_mb", "Archive quota", suffix=" MB", decimals=0, tooltip="0 = no quota; oldest go first"),
    F("check_interval_s", "Check every", suffix=" s", decimals=0),
    F("low_disk_mb", "Warn below free space", suffix=" MB", decimals=0),
]
LOGGING_FIELDS = [
    F("level", "Log level"),
    F("max_kb", "Log file size", suffix=" kB"),
    F("backups", "Old log files kept"),
]


def records_tab(dialog) -> QWidget:
    """Build the tab from `dialog._form(section, specs)` (a SettingsDialog)."""
    from inspection_station.gui.engineer.settings_fields import specs_for

    page = QWidget()
    layout = QVBoxLayout(page)
    settings = dialog.settings
    for title, section, specs in (
        ("Who may do what", "access", ACCESS_FIELDS),
        ("Part id (traceability)", "part_id", PART_ID_FIELDS),
        ("Image retention", "retention", RETENTION_FIELDS),
        ("Log file", "logging", LOGGING_FIELDS),
    ):
        heading = QLabel(f"<b>{title}</b>", page)
        layout.addWidget(heading)
        form = dialog._form(section, specs_for(getattr(settings, section), specs))
        layout.addWidget(form)
        if section == "access" and dialog.access is not None:
            admin = dialog.access.allowed("users")
            if not admin:
                form.setEnabled(False)
                form.setToolTip("only an admin changes the roles")
                heading.setText(f"<b>{title}</b> (admin only)")
            # also reachable here: in kiosk mode the window has no menu bar
            dialog.accounts_button = QPushButton("Accounts …", page)
            dialog.accounts_button.setEnabled(admin)
            dialog.accounts_button.clicked.connect(lambda: _open_accounts(dialog))
            layout.addWidget(dialog.accounts_button, 0, Qt.AlignmentFlag.AlignLeft)
    layout.addStretch(1)
    return page


def _open_accounts(dialog) -> None:
    from inspection_station.gui.engineer.accounts_dialog import AccountsDialog

    if dialog.access is not None and dialog.access.allowed("users"):
        dialog.accounts_dialog = AccountsDialog(dialog.access, dialog)
        dialog.accounts_dialog.open()
