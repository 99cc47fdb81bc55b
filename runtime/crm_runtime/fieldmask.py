"""Field-mask resolution for Update methods (AIP-134), with per-field write protection."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf import field_mask_pb2

from crm_runtime.errors import FieldViolation, InvalidArgument, PermissionDenied


def resolve_mask(
    mask: field_mask_pb2.FieldMask,
    *,
    mutable: Iterable[str],
    protected: Iterable[str],
    resource: Any,
    field: str = "update_mask",
) -> set[str]:
    """Return the top-level paths to update.

    "*" means every mutable field. Unknown, duplicate, nested or output-only paths are
    INVALID_ARGUMENT; fields that only their own workflow may change (for example the
    assigned RM) are PERMISSION_DENIED, so mass assignment cannot reach them.
    """
    mutable_set = frozenset(mutable)
    protected_set = frozenset(protected)
    paths = list(mask.paths)
    if not paths:
        raise InvalidArgument.of(field, "must name at least one field or be '*'")
    if paths == ["*"]:
        return set(mutable_set)
    seen: set[str] = set()
    problems: list[FieldViolation] = []
    for path in paths:
        if path in seen:
            problems.append(FieldViolation(field, f"path {path!r} appears twice"))
        seen.add(path)
        if path == "*":
            problems.append(FieldViolation(field, "'*' must be the only path"))
        elif path in protected_set:
            raise PermissionDenied(
                f"field {path!r} cannot be changed through this method",
                reason="FIELD_NOT_MUTABLE",
                metadata={"field": path},
            )
        elif path not in resource.fields_by_name:
            problems.append(FieldViolation(field, f"unknown field {path!r}"))
        elif path not in mutable_set:
            problems.append(FieldViolation(field, f"field {path!r} is output only or immutable"))
    if problems:
        raise InvalidArgument(
            f"{problems[0].field}: {problems[0].description}", violations=problems
        )
    return seen
