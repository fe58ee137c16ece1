"""Model inputs in physical units: ``InputSpec``, where windows fall, and the log-power inputs."""
