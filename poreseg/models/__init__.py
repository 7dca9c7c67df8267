"""Network architectures only: no weights loading, no training, no pre-processing."""
