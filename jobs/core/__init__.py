"""The bottom layer of the pipeline: errors, logging, the typed config, the lake, the Spark
session and the stage contract. Imports nothing of jobs/ above it (tests/test_layers.py)."""
