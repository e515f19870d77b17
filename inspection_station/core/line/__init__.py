"""Line integration: PLC signals on camera outputs, the HTTP API, Prometheus metrics."""
