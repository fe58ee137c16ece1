"""Sensor batches: upload decoding (``decode``), ingest (``service``), storage and endpoints."""
