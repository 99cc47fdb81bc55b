"""Field violations: the shape every validator in the domain returns.

A validator returns a list rather than raising on the first problem so that the
servicer can put every violation into one ``google.rpc.BadRequest`` detail.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One problem with one input field, in ``google.rpc.BadRequest`` terms.

    ``field`` is a path such as ``questions[2].options[0].label.en`` or ``answers.q1``.
    """

    field: str
    description: str
