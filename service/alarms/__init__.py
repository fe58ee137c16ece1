"""Alarms: fault-probability hysteresis and vibration-zone alarms, their life cycle and feedback."""
