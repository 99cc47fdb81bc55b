"""Credit groups and guarantee chains in risk: exposure, limits, contagion and circles.

`graph` and `exposure` are pure (no I/O); `models`, `store`, `events` and `contagion` are
their stored halves, fed by the client service's group and guarantee events.
"""
