"""Synthetic worlds for evaluation, benchmarks and the demo, kept out of the services.

Nothing in a service imports this package: generators and evaluators drive the services from
outside, through their public APIs or their pure engines, the way a bank's own test data would.
"""
