"""Portfolio concentration: ``model`` computes exposures and limit use (pure); ``store`` loads
the holdings and checks the limits when facilities are registered."""
