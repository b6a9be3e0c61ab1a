"""Simulation computer: scenario suites, metrics, gates, reports and video for a trained policy."""
