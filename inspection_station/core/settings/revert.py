"""The model-revert policy, written once: what the settings say after a model failed to load.

The station keeps the previous model running when a new one fails; the settings in force
(the station's, and the saved file's, so that a restart works) must then name the model
that runs, not the one that failed. Unless newer settings came meanwhile: their own load
decides, and nothing may overwrite them.
"""

from __future__ import annotations

import dataclasses

from inspection_station.core.settings.model import ModelSettings, Settings


def after_failed_model_load(settings: Settings, failed: ModelSettings, running: ModelSettings | None) -> Settings | None:
    """`settings` with the running model's settings put back, or None when nothing changes.

    None when no model runs (nothing to go back to), when `settings` no longer ask for the
    model that failed (newer settings), or when they already name the running model.
    """
    if running is None or settings.model != failed or running == failed:
        return None
    return dataclasses.replace(settings, model=running)
