"""ONNX detection: session and providers, letterbox, YOLO output decoders, NMS."""
