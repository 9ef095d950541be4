"""sensorlake: predictive-maintenance lakehouse."""
