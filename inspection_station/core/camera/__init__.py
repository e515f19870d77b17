"""The camera: protocol, worker thread (owns every pylon object), pylon device, discovery, folder replay, frame transform."""
