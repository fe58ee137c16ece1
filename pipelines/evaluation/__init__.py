"""Evaluation: the protocol runner, the envelope baseline, explanation checks, the report."""
