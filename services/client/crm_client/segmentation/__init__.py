"""Segment clients with user-editable rule expressions and suggest next-best actions.

- ``expr``: the safe rule language (compile_expression, CompiledExpression, ExpressionError);
- ``features``: the feature catalogue, fact dataclasses, master scale and credit tiers;
- ``builtin``: the segments every installation starts with, as data;
- ``engine``: build_features, evaluate_memberships, diff_memberships;
- ``recommendations``: recommend() over features and memberships.
"""

from __future__ import annotations

from crm_client.segmentation.builtin import BUILTIN_SEGMENTS, SegmentDefinition, SegmentKind
from crm_client.segmentation.engine import (
    CompiledSegment,
    MembershipDiff,
    build_features,
    compile_builtin_segments,
    compile_segment,
    diff_memberships,
    evaluate_memberships,
)
from crm_client.segmentation.expr import CompiledExpression, ExpressionError, compile_expression
from crm_client.segmentation.features import (
    FEATURES,
    KNOWN_FEATURES,
    ActivityFacts,
    ClientFacts,
    CreditFacts,
    FeatureSpec,
    OwnerFacts,
    credit_tier,
    grade_rank,
)
from crm_client.segmentation.recommendations import Recommendation, recommend

__all__ = [
    "BUILTIN_SEGMENTS",
    "FEATURES",
    "KNOWN_FEATURES",
    "ActivityFacts",
    "ClientFacts",
    "CompiledExpression",
    "CompiledSegment",
    "CreditFacts",
    "ExpressionError",
    "FeatureSpec",
    "MembershipDiff",
    "OwnerFacts",
    "Recommendation",
    "SegmentDefinition",
    "SegmentKind",
    "build_features",
    "compile_builtin_segments",
    "compile_expression",
    "compile_segment",
    "credit_tier",
    "diff_memberships",
    "evaluate_memberships",
    "grade_rank",
    "recommend",
]
