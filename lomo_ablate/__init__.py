"""lomo-ablate: LoMo data-curation ablations for VLMs."""
__version__ = "0.1.0"
