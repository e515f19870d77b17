"""The engineer's tools: settings dialog, pattern editor, unlock."""
