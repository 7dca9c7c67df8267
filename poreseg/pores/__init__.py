"""Pore segmentation: DoGPore coarse labels, PS-Net, pore scale and the synthetic benchmark."""

__all__ = ["PoreError", "PoreResult", "PoreSegmenter", "prepare_input", "segment_pores"]


def __getattr__(name: str):
    # The segmenter imports ONNX Runtime; DoGPore, the pore scale and the synthetic pores do not need it.
    if name in __all__:
        from poreseg.pores import segment
        return getattr(segment, name)
    raise AttributeError(f"module 'poreseg.pores' has no attribute {name!r}")
