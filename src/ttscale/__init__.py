"""ttscale: an incremental, cluster-ready pipeline for inference-scaling experiments."""

__version__ = "0.1.0"
