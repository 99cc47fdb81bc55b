"""Update masks: only mutable fields get through; protected ones are PERMISSION_DENIED."""

from __future__ import annotations

import pytest
from google.protobuf import field_mask_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.client.v1 import client_pb2
from crm_runtime.errors import InvalidArgument, PermissionDenied
from crm_runtime.fieldmask import resolve_mask

RESOURCE = client_pb2.Client.DESCRIPTOR
MUTABLE = frozenset({"display_name", "industry_code", "region_code", "employee_count",
                     "annual_revenue", "group"})
PROTECTED = frozenset({"relationship_manager", "team", "credit_grade", "credit_code"})
OUTPUT_ONLY = ("name", "state", "size_class", "create_time", "update_time", "potential_risk")
UNKNOWN = ("owner_rm_id", "risk_rating", "annual_revenue.units", "", "DISPLAY_NAME",
           "display_name ", "clients.display_name", "**")


def _resolve(*paths: str) -> set[str]:
    return resolve_mask(field_mask_pb2.FieldMask(paths=list(paths)), mutable=MUTABLE,
                        protected=PROTECTED, resource=RESOURCE)


def _invalid(*paths: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        _resolve(*paths)
    return caught.value


class TestResolveMask:
    def test_fixture_names_are_real_fields(self):
        """Every mutable, protected and output-only name used here exists on Client."""
        for name in (*MUTABLE, *PROTECTED, *OUTPUT_ONLY):
            assert name in RESOURCE.fields_by_name, name

    def test_star_means_every_mutable_field(self):
        """"*" alone yields the mutable fields and none of the protected ones."""
        assert _resolve("*") == set(MUTABLE)

    def test_explicit_paths(self):
        """Named mutable paths are returned as given."""
        assert _resolve("display_name", "employee_count") == {"display_name", "employee_count"}

    def test_star_with_other_paths(self):
        """"*" mixed with other paths is INVALID_ARGUMENT."""
        error = _invalid("*", "display_name")
        assert error.reason == "INVALID_ARGUMENT"
        assert [v.field for v in error.violations] == ["update_mask"]
        _invalid("*", "*")

    def test_duplicates(self):
        """A path named twice is INVALID_ARGUMENT."""
        assert _invalid("display_name", "display_name").reason == "INVALID_ARGUMENT"

    @pytest.mark.parametrize("path", UNKNOWN)
    def test_unknown_or_nested(self, path):
        """Paths that are not top-level fields of the resource are INVALID_ARGUMENT."""
        assert _invalid("display_name", path).reason == "INVALID_ARGUMENT"

    @pytest.mark.parametrize("path", OUTPUT_ONLY)
    def test_output_only(self, path):
        """Output-only fields named explicitly are INVALID_ARGUMENT."""
        assert _invalid(path).reason == "INVALID_ARGUMENT"

    @pytest.mark.parametrize("path", sorted(PROTECTED))
    def test_protected(self, path):
        """Protected fields are PERMISSION_DENIED with FIELD_NOT_MUTABLE, even beside valid ones."""
        with pytest.raises(PermissionDenied) as caught:
            _resolve("display_name", path)
        assert caught.value.reason == "FIELD_NOT_MUTABLE"
        assert caught.value.metadata == {"field": path}

    def test_protected_wins_over_earlier_problems(self):
        """A protected path is PERMISSION_DENIED even when an earlier path was merely invalid."""
        with pytest.raises(PermissionDenied):
            _resolve("nope", "display_name", "display_name", "team")

    def test_empty_mask(self):
        """An empty mask is INVALID_ARGUMENT (AIP-134: we do not guess)."""
        assert _invalid().reason == "INVALID_ARGUMENT"

    def test_every_problem_reported(self):
        """All invalid paths are listed as violations, not only the first."""
        error = _invalid("nope", "state", "display_name", "display_name")
        assert len(error.violations) == 3

    def test_custom_field_name(self):
        """Violations name the request field the caller passed the mask in."""
        with pytest.raises(InvalidArgument) as caught:
            resolve_mask(field_mask_pb2.FieldMask(), mutable=MUTABLE, protected=PROTECTED,
                         resource=RESOURCE, field="segment_mask")
        assert [v.field for v in caught.value.violations] == ["segment_mask"]


NAMES = st.sampled_from(sorted(MUTABLE) + sorted(PROTECTED) + list(OUTPUT_ONLY) + list(UNKNOWN)
                        + ["*"])


class TestResolveMaskProperties:
    @settings(max_examples=300, deadline=None)
    @given(paths=st.lists(NAMES, max_size=8))
    def test_never_returns_protected_or_unknown(self, paths):
        """Whatever the mask, the result is a subset of mutable fields, or an error."""
        try:
            result = _resolve(*paths)
        except PermissionDenied as error:
            assert error.reason == "FIELD_NOT_MUTABLE"
            assert set(paths) & PROTECTED
        except InvalidArgument as error:
            assert error.violations
            assert not set(paths) & PROTECTED
        else:
            assert result <= MUTABLE
            assert not result & PROTECTED
            if paths != ["*"]:
                assert result == set(paths)
                assert len(paths) == len(set(paths))

    @settings(max_examples=200, deadline=None)
    @given(paths=st.lists(st.sampled_from(sorted(MUTABLE)), min_size=1, unique=True))
    def test_distinct_mutable_paths_accepted(self, paths):
        """Any non-empty set of distinct mutable paths is accepted exactly."""
        assert _resolve(*paths) == set(paths)
