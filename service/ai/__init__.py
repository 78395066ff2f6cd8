"""The inference side of Tillbridge's AI: mapping suggestions, anomaly scoring, duplicate resolution."""
