"""Validate and analyse a snapshot: indicators and one batched model inference."""
