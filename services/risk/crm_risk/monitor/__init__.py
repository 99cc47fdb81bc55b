"""The monitoring stream inside the service: conversion, context, store, pipeline.

The pure engine lives in ``crm_risk.monitoring``; this package feeds it from the gRPC stream
and persists what it needs (transaction log, per-client state checkpoints, warnings).
"""
