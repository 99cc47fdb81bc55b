"""Project finance against progress: plans, verified progress and the gap."""
