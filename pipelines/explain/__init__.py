"""Explanations: attribution maps (captum), the physics check against defect lines, rendering."""
