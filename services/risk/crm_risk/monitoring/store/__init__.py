"""The monitoring stream inside the service: conversion, pipeline, batch log, lookups, profiles.

The pure engine lives in ``crm_risk.monitoring.engine``; this package feeds it from the gRPC
stream and persists what it needs (batch log, per-unit state checkpoints, warnings, the rule
sets put in force).
"""
