"""Training and evaluation of Tillbridge's models; called by the notebooks and the CLI."""
