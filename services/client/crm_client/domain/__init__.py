"""Pure domain rules for client profiles: identifiers, industry, size class and region.

Nothing here touches the database, the network or the clock (except where a function
takes ``today`` explicitly), so the rules can be tested and reused anywhere.
"""
