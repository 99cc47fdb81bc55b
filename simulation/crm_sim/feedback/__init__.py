"""Synthetic feedback data with planted truth, for the feedback analytics' tests and the demo.

``world`` generates approval-stage events (a slow stage planted in one branch, delivered
duplicated and shuffled) and survey answers whose NPS is fixed in advance; ``report`` prints
what the pure analytics of ``crm_feedback.domain`` find in them next to the planted truth
(``python -m crm_sim.feedback.report``).
"""
