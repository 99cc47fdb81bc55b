"""Synthetic corporate borrowers for the rating model, and the tools that fit and validate it.

- ``world``, ``traits``, ``dynamics``, ``cas``, ``book``: a seeded economy of Chinese
  corporate borrowers whose CAS statements and defaults follow from simulated economics
  (cash, funding, bank behaviour and hidden shocks), never from the scorecard's formulas;
- ``binning``, ``logistic``, ``fit``: the offline fit of a scorecard version and its ratio
  thresholds, written as reviewable configuration into the risk service;
- ``calibration``, ``curves``, ``recalibrate``: the long-run default rate and the calibration
  curve from a version's log-odds to its PDs, fitted on worlds the factor fit never saw;
- ``stats``, ``evaluate``, ``validate``: discrimination, calibration, stability and
  migration reports.
"""
