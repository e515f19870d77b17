"""Settings: the typed model and its loading, checks across keys, access, audit trail."""
