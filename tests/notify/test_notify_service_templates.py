"""Template RPCs: CRUD, compile-time checks, safe rendering and the errors bad input gets."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2
from notify_harness import RM_A, details, notify_service

from crm.notify.v1 import notify_service_pb2, preference_pb2, template_pb2
from crm_runtime.auth import Role

STRING = template_pb2.VARIABLE_TYPE_STRING
MONEY = template_pb2.VARIABLE_TYPE_MONEY


class TestCrud:
    async def test_create_get_update_delete(self, store_url, identity):
        """A template round-trips, updates bump the version, deletes need the current etag."""
        async with notify_service(store_url, identity) as h:
            created = await h.template("loan-due")
            assert created.version == 1 and not created.built_in
            got = await h.stub.GetTemplate(
                notify_service_pb2.GetTemplateRequest(name="templates/loan-due"),
                metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
            )
            assert got == created
            changed = template_pb2.Template(name=got.name, display_name="Loan due", etag=got.etag)
            updated = await h.stub.UpdateTemplate(
                notify_service_pb2.UpdateTemplateRequest(
                    template=changed, update_mask=field_mask_pb2.FieldMask(paths=["display_name"])
                ),
                metadata=h.ops(),
            )
            assert (updated.version, updated.display_name) == (2, "Loan due")
            assert updated.variants == got.variants
            with pytest.raises(grpc.aio.AioRpcError) as stale:
                await h.stub.DeleteTemplate(
                    notify_service_pb2.DeleteTemplateRequest(name=got.name, etag=got.etag),
                    metadata=h.ops(),
                )
            assert stale.value.code() == grpc.StatusCode.ABORTED
            await h.stub.DeleteTemplate(
                notify_service_pb2.DeleteTemplateRequest(name=got.name, etag=updated.etag),
                metadata=h.ops(),
            )
            listed = await h.stub.ListTemplates(
                notify_service_pb2.ListTemplatesRequest(), metadata=h.ops()
            )
            names = [t.name for t in listed.templates]
            assert "templates/loan-due" not in names
            assert "templates/warning-raised" in names  # Built-ins are seeded.

    async def test_only_operations_may_write_and_built_ins_stay(self, sqlite_url, identity):
        """An RM cannot create templates; a built-in template cannot be deleted."""
        async with notify_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await h.stub.CreateTemplate(
                    notify_service_pb2.CreateTemplateRequest(template_id="x-y-z"),
                    metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
                )
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(grpc.aio.AioRpcError) as built_in:
                await h.stub.DeleteTemplate(
                    notify_service_pb2.DeleteTemplateRequest(name="templates/warning-raised"),
                    metadata=h.ops(),
                )
            assert built_in.value.code() == grpc.StatusCode.FAILED_PRECONDITION


class TestBadInput:
    async def test_unknown_variable_is_rejected_when_saved(self, sqlite_url, identity):
        """A placeholder naming an undeclared variable fails with the variant's field."""
        async with notify_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.template(
                    "bad-var",
                    en=("Hi {{ client_name }}", "Your limit is {{ credit_limit | money }}."),
                )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "unknown template variable 'credit_limit'" in caught.value.details()
        assert details(caught.value) == ("TEMPLATE_INVALID", ["template.variants[1].body"])

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            ("{{ client_name.__class__ }}", "malformed placeholder"),
            ("{{ client_name | eval }}", "unknown filter 'eval'"),
            ("{{ client_name | money }}", "does not apply to string"),
            ("{{ client_name", "unclosed"),
        ],
    )
    async def test_unsafe_or_malformed_placeholders_are_rejected(
        self, sqlite_url, identity, body, expected
    ):
        """Attribute access, unknown filters and broken braces never compile."""
        async with notify_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.template("unsafe", zh=("主题", body))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert expected in caught.value.details()

    async def test_template_that_fails_to_render_names_the_variable(self, sqlite_url, identity):
        """A send with a missing or mistyped value is INVALID_ARGUMENT on variables.<name>."""
        async with notify_service(sqlite_url, identity) as h:
            await h.template(
                "limit",
                variables=(("client_name", STRING), ("amount", MONEY)),
                zh=("额度", "{{ client_name }} 额度 {{ amount }}"),
                en=("Limit", "{{ client_name }} limit {{ amount }}"),
            )
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await h.send(RM_A, "templates/limit", client_name="甲")
            with pytest.raises(grpc.aio.AioRpcError) as mistyped:
                await h.send(RM_A, "templates/limit", client_name="甲", amount="1e9")
            assert details(missing.value) == ("TEMPLATE_RENDER_FAILED", ["variables.amount"])
            assert details(mistyped.value) == ("TEMPLATE_RENDER_FAILED", ["variables.amount"])
            listed = await h.stub.ListMessages(
                notify_service_pb2.ListMessagesRequest(recipient=RM_A), metadata=h.system()
            )
            assert not listed.messages  # Nothing half-sent.

    async def test_page_size_out_of_range(self, sqlite_url, identity):
        """A negative page size is INVALID_ARGUMENT naming page_size; a huge one is capped."""
        async with notify_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.ListTemplates(
                    notify_service_pb2.ListTemplatesRequest(page_size=-5), metadata=h.ops()
                )
            assert details(caught.value)[1] == ["page_size"]
            capped = await h.stub.ListTemplates(
                notify_service_pb2.ListTemplatesRequest(page_size=100_000), metadata=h.ops()
            )
            assert len(capped.templates) == 6


class TestRendering:
    async def test_locales_and_html_like_values_render_as_text(self, sqlite_url, identity):
        """zh-CN and en variants format money their own way; values are never interpreted."""
        async with notify_service(sqlite_url, identity) as h:
            await h.template(
                "limit",
                variables=(("client_name", STRING), ("amount", MONEY)),
                zh=("额度", "{{ client_name }} 额度 {{ amount }}"),
                en=("Limit", "{{ client_name }} limit {{ amount }}"),
            )
            values = {"client_name": "{{ amount }}<script>", "amount": "1234567.5"}
            zh = await h.stub.RenderTemplate(
                notify_service_pb2.RenderTemplateRequest(
                    name="templates/limit", variables=values, locale="zh-CN"
                ),
                metadata=h.ops(),
            )
            en = await h.stub.RenderTemplate(
                notify_service_pb2.RenderTemplateRequest(
                    name="templates/limit", variables=values, locale="en-GB"
                ),
                metadata=h.ops(),
            )
        assert zh.body == "{{ amount }}<script> 额度 1,234,567.50元"
        assert (en.locale, en.body) == ("en", "{{ amount }}<script> limit ¥1,234,567.50")

    async def test_send_uses_the_recipients_locale(self, sqlite_url, identity):
        """A recipient whose preferences say en gets the English variant."""
        async with notify_service(sqlite_url, identity) as h:
            await h.template("notice")
            await h.stub.UpdatePreferences(
                notify_service_pb2.UpdatePreferencesRequest(
                    preferences=preference_pb2.Preferences(name=f"{RM_A}/preferences", locale="en"),
                    update_mask=field_mask_pb2.FieldMask(paths=["locale"]),
                    request_id=str(uuid.uuid4()),
                ),
                metadata=h.as_(RM_A, Role.RELATIONSHIP_MANAGER),
            )
            english = await h.send(RM_A, "templates/notice", client_name="Acme")
            chinese = await h.send("staff/rm-b", "templates/notice", client_name="甲")
        assert english.messages[0].subject == "Notice: Acme"
        assert chinese.messages[0].subject == "通知：甲"
