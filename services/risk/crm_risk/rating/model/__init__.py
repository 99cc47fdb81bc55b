"""Pure rating domain: statements, ratios, five-category classification and ratings.

Nothing here touches a database, the network or the clock; every function is a pure,
deterministic transformation so that the servicer layer can call it from a worker
thread and tests can pin exact results. Configuration (thresholds, scorecards, master
scales) is versioned: a result always names the version that produced it.
"""
