"""Component geometry per turbine sensor (bearings, gears) and a small bearing catalogue."""
