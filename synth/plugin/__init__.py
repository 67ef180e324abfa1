"""The plugin: one ONNX file, its manifest contract, and running it with onnxruntime."""
