"""Plant-wide results: each CSV row of the station to the plant's PostgreSQL and MQTT broker.

outbox.py (the durable local queue), sender.py (a thread per receiver), postgres.py and
schema.py (the database), mqtt.py (the broker), rows.py (the typed row both get),
credentials.py (URLs and passwords), service.py (what LineServices runs), report.py (the
plant's view from the database). docs/plant_results.md has the whole picture.
"""
