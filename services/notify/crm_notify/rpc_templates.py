"""Template RPCs: CRUD with compile-time checks, and a render preview."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2
from sqlalchemy import select
from sqlmodel import col

from crm.notify.v1 import notify_pb2, notify_service_pb2
from crm_notify.access import TEMPLATE_ADMIN_ROLES
from crm_notify.context import NotifyContext
from crm_notify.domain.templates import RenderError
from crm_notify.mapping import etag
from crm_notify.models import TemplateRow
from crm_notify.names import TEMPLATE_NAME_RE, Violations, check_resource_id, parse_name
from crm_notify.template_checks import checked_parts, store_parts, template_message
from crm_notify.templates_store import load_template, render_problem
from crm_runtime import idempotency
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import Aborted, AlreadyExists, FailedPrecondition, NotFound
from crm_runtime.fieldmask import resolve_mask
from crm_runtime.pagination import page_size

MUTABLE = frozenset({"display_name", "category", "variables", "variants", "fallback_locale"})
_SERVICE = "crm.notify.v1.NotificationService"


class TemplatesRpc:
    """Create, read, list, update, delete and render templates."""

    ctx: NotifyContext

    async def CreateTemplate(  # noqa: N802
        self, request: notify_service_pb2.CreateTemplateRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.Template:
        """Store a template after compiling every variant."""
        principal = require_roles(*TEMPLATE_ADMIN_ROLES)
        idempotency.check_request_id(request.request_id)
        v = Violations()
        check_resource_id(v, "template_id", request.template_id)
        v.raise_if_any()
        paths = set(MUTABLE)
        category, variables, variants, fallback, compiled = checked_parts(
            request.template, paths, None
        )
        now = self.ctx.clock()
        method = f"{_SERVICE}/CreateTemplate"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response_type=notify_pb2.Template,
            )
            if replay is not None:
                return replay
            if await session.get(TemplateRow, request.template_id) is not None:
                raise AlreadyExists(
                    f"templates/{request.template_id} exists", reason="TEMPLATE_EXISTS"
                )
            row = TemplateRow(
                template_id=request.template_id,
                display_name=request.template.display_name,
                category=category,
                variables_json="[]",
                variants_json="[]",
                fallback_locale=fallback,
                create_time=now,
                update_time=now,
            )
            store_parts(row, variables, variants)
            session.add(row)
            response = template_message(row, compiled)
            await idempotency.remember(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response=response,
            )
            return response

    async def GetTemplate(  # noqa: N802
        self, request: notify_service_pb2.GetTemplateRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.Template:
        """Return one template."""
        current_principal()
        template_id = parse_name(request.name, TEMPLATE_NAME_RE, "name")
        async with self.ctx.db.read() as session:
            row = await session.get(TemplateRow, template_id)
        if row is None:
            raise NotFound(f"{request.name} does not exist", reason="TEMPLATE_NOT_FOUND")
        return template_message(row, self.ctx.templates.compiled(row))

    async def ListTemplates(  # noqa: N802
        self, request: notify_service_pb2.ListTemplatesRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.ListTemplatesResponse:
        """Return templates by name."""
        current_principal()
        size = page_size(request.page_size)
        query = {"m": "ListTemplates"}
        after = str(self.ctx.tokens.decode(request.page_token, query=query) or "")
        async with self.ctx.db.read() as session:
            rows = list(
                (
                    await session.execute(
                        select(TemplateRow)
                        .where(col(TemplateRow.template_id) > after)
                        .order_by(col(TemplateRow.template_id))
                        .limit(size + 1)
                    )
                ).scalars()
            )
        response = notify_service_pb2.ListTemplatesResponse(
            templates=[template_message(r, self.ctx.templates.compiled(r)) for r in rows[:size]]
        )
        if len(rows) > size:
            response.next_page_token = self.ctx.tokens.encode(
                rows[size - 1].template_id, query=query
            )
        return response

    async def UpdateTemplate(  # noqa: N802
        self, request: notify_service_pb2.UpdateTemplateRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.Template:
        """Change the named fields; the result must compile."""
        principal = require_roles(*TEMPLATE_ADMIN_ROLES)
        idempotency.check_request_id(request.request_id)
        template_id = parse_name(request.template.name, TEMPLATE_NAME_RE, "template.name")
        paths = resolve_mask(
            request.update_mask,
            mutable=MUTABLE,
            protected=(),
            resource=notify_pb2.Template.DESCRIPTOR,
        )
        method = f"{_SERVICE}/UpdateTemplate"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response_type=notify_pb2.Template,
            )
            if replay is not None:
                return replay
            row = await session.get(TemplateRow, template_id)
            if row is None:
                raise NotFound(
                    f"{request.template.name} does not exist", reason="TEMPLATE_NOT_FOUND"
                )
            if request.template.etag and request.template.etag != etag(
                "template", row.template_id, row.version
            ):
                raise Aborted("the template changed since it was read", reason="ETAG_MISMATCH")
            category, variables, variants, fallback, compiled = checked_parts(
                request.template, paths, row
            )
            if "display_name" in paths:
                row.display_name = request.template.display_name
            row.category, row.fallback_locale = category, fallback
            store_parts(row, variables, variants)
            row.version += 1
            row.update_time = self.ctx.clock()
            session.add(row)
            response = template_message(row, compiled)
            await idempotency.remember(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response=response,
            )
            return response

    async def DeleteTemplate(  # noqa: N802
        self, request: notify_service_pb2.DeleteTemplateRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Delete a template that is not built in."""
        principal = require_roles(*TEMPLATE_ADMIN_ROLES)
        idempotency.check_request_id(request.request_id)
        template_id = parse_name(request.name, TEMPLATE_NAME_RE, "name")
        method = f"{_SERVICE}/DeleteTemplate"
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response_type=empty_pb2.Empty,
            )
            if replay is not None:
                return replay
            row = await session.get(TemplateRow, template_id)
            if row is None:
                raise NotFound(f"{request.name} does not exist", reason="TEMPLATE_NOT_FOUND")
            if row.built_in:
                raise FailedPrecondition(
                    "built-in templates can be edited but not deleted", reason="TEMPLATE_BUILT_IN"
                )
            if request.etag and request.etag != etag("template", row.template_id, row.version):
                raise Aborted("the template changed since it was read", reason="ETAG_MISMATCH")
            await session.delete(row)
            response = empty_pb2.Empty()
            await idempotency.remember(
                session,
                method=method,
                request=request,
                subject=principal.subject,
                response=response,
            )
            return response

    async def RenderTemplate(  # noqa: N802
        self, request: notify_service_pb2.RenderTemplateRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.RenderTemplateResponse:
        """Render without sending: the same checks a send applies."""
        current_principal()
        async with self.ctx.db.read() as session:
            loaded = await load_template(session, self.ctx.templates, request.name, field="name")
        locale = loaded.compiled.resolve_locale(request.locale or None)
        try:
            rendered = loaded.compiled.render(dict(request.variables), locale=locale)
        except RenderError as exc:
            raise render_problem(exc) from exc
        return notify_service_pb2.RenderTemplateResponse(
            subject=rendered.subject, body=rendered.body, locale=locale
        )
