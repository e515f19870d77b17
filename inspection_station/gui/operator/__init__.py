"""The operator's window: live view, overlay, verdict banner, history, statistics."""
