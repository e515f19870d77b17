"""After the verdict: recorder, CSV log, image archive, running statistics."""
