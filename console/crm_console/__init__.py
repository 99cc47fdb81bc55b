"""The staff workbench: server-rendered pages the gateway serves under /console/.

Every call it makes goes to the gateway's own HTTP/JSON API with the signed-in person's token,
so authentication, object-level access, rate limits and audit are those of any other caller.
"""
