"""Credit ratings: ``model`` is the pure rating domain (statements, ratios, classification,
scorecards, master scale); ``rate`` rates a client against the store and announces it."""
