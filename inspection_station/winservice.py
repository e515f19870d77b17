"""The Windows service host: pywin32's service framework around `serve`'s loop.

Started by the Service Control Manager as `inspection-station.exe service run` (the command
line inspection_station/deploy/windows_service.py registers). It reports RUNNING at once,
before the slow imports (the SCM waits 30 s at most), then runs `serve_station` on the
machine-wide settings until the SCM says stop. Windows only; needs the `service` extra.
Why pywin32 and not a wrapper such as WinSW: the service is our own program, stopped through
our own stop event (no console Ctrl+C relayed by a second process), and pywin32 comes from
the package registry, pinned with hashes in the release lock, like every other dependency.
"""

from __future__ import annotations

import threading

import servicemanager
import win32service
import win32serviceutil

from inspection_station.deploy import windows_service


class StationService(win32serviceutil.ServiceFramework):
    _svc_name_ = windows_service.NAME
    _svc_display_name_ = windows_service.DISPLAY_NAME
    _svc_description_ = windows_service.DESCRIPTION

    def __init__(self, args) -> None:
        super().__init__(args)
        self.stop_event = threading.Event()

    def SvcStop(self) -> None:  # noqa: N802 (pywin32's name)
        self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)
        self.stop_event.set()

    def SvcDoRun(self) -> None:  # noqa: N802 (pywin32's name)
        self.ReportServiceStatus(win32service.SERVICE_RUNNING)
        servicemanager.LogInfoMsg(f"{self._svc_name_}: starting the station")
        from inspection_station.commands.serve import serve_station
        from inspection_station.core.data_root import prepare_data_root
        from inspection_station.core.settings.model import load_settings

        try:
            prepare_data_root()
            loaded = load_settings()
            say = servicemanager.LogInfoMsg
            for warning in loaded.warnings:
                say(f"settings: {warning}")
            serve_station(loaded.settings, self.stop_event, command="service", settings_path=loaded.user_file,
                          say=say)
        except Exception as exc:  # noqa: BLE001 - the event log is the only place a service can say it
            servicemanager.LogErrorMsg(f"{self._svc_name_}: stopped: {exc}")
            raise


def dispatch() -> int:
    """Hand this process to the SCM; returns when the service has stopped."""
    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(StationService)
    servicemanager.StartServiceCtrlDispatcher()
    return 0
