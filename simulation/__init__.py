"""Simulated fleets: the drivetrain vibration simulator and the gateway client that posts them."""
