"""Export: a trained torch generator to one contract-conforming ONNX file (imports torch)."""
