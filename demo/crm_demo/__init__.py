"""Synthetic corporate-lending portfolio for the demo and the tests.

Pure Python: every function here returns protobuf request messages and never performs
I/O or RPCs. See :func:`crm_demo.portfolio.generate_portfolio`.
"""

from __future__ import annotations

from crm_demo.portfolio import PortfolioClient, describe, generate_portfolio, rm_roster

__all__ = ["PortfolioClient", "describe", "generate_portfolio", "rm_roster"]
