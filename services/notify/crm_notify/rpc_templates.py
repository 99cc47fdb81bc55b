"""Template RPCs: CRUD with compile-time checks, and a render preview."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from crm.notify.v1 import notify_service_pb2, template_pb2
from crm_notify.access import TEMPLATE_ADMIN_ROLES
from crm_notify.context import NotifyContext
from crm_notify.domain.template_types import RenderError
from crm_notify.mapping import etag
from crm_notify.models import TemplateRow
from crm_notify.names import Violations, check_resource_id
from crm_notify.template_checks import checked_parts, store_parts, template_message
from crm_notify.templates_store import TEMPLATE, load_template, render_problem, templates_page
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import Aborted, AlreadyExists, FailedPrecondition, NotFound
from crm_runtime.fieldmask import resolve_mask
from crm_runtime.pagination import page_size

MUTABLE = frozenset({"display_name", "category", "variables", "variants", "fallback_locale"})
_SERVICE = "crm.notify.v1.NotificationService"
M = TypeVar("M", bound=Message)


async def _stored(session: AsyncSession, template_id: str, name: str) -> TemplateRow:
    row = await session.get(TemplateRow, template_id)
    if row is None:
        raise NotFound(f"{name} does not exist", reason="TEMPLATE_NOT_FOUND")
    return row


def _check_etag(given: str, row: TemplateRow) -> None:
    if given and given != etag("template", row.template_id, row.version):
        raise Aborted("the template changed since it was read", reason="ETAG_MISMATCH")


class TemplatesRpc:
    """Create, read, list, update, delete and render templates."""

    ctx: NotifyContext

    async def _mutation(
        self,
        request: Message,
        method: str,
        response_type: type[M],
        work: Callable[[AsyncSession], Awaitable[M]],
        subject: str,
    ) -> M:
        """Run one template change idempotently (every template change has a request_id)."""
        return await idempotency.mutation(
            self.ctx.db,
            request,
            method=f"{_SERVICE}/{method}",
            subject=subject,
            response_type=response_type,
            work=work,
        )

    async def CreateTemplate(  # noqa: N802
        self, request: notify_service_pb2.CreateTemplateRequest, context: grpc.aio.ServicerContext
    ) -> template_pb2.Template:
        """Store a template after compiling every variant."""
        principal = require_roles(*TEMPLATE_ADMIN_ROLES)
        v = Violations()
        check_resource_id(v, "template_id", request.template_id)
        v.raise_if_any()
        category, variables, variants, fallback, compiled = checked_parts(
            request.template, set(MUTABLE), None
        )
        now = self.ctx.clock()

        async def work(session: AsyncSession) -> template_pb2.Template:
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
            return template_message(row, compiled)

        return await self._mutation(
            request, "CreateTemplate", template_pb2.Template, work, principal.subject
        )

    async def GetTemplate(  # noqa: N802
        self, request: notify_service_pb2.GetTemplateRequest, context: grpc.aio.ServicerContext
    ) -> template_pb2.Template:
        """Return one template."""
        current_principal()
        template_id = names.parse(request, "name")["template"]
        async with self.ctx.db.read() as session:
            row = await _stored(session, template_id, request.name)
        return template_message(row, self.ctx.templates.compiled(row))

    async def ListTemplates(  # noqa: N802
        self, request: notify_service_pb2.ListTemplatesRequest, context: grpc.aio.ServicerContext
    ) -> notify_service_pb2.ListTemplatesResponse:
        """Return templates by name."""
        current_principal()
        async with self.ctx.db.read() as session:
            page = await templates_page(
                session,
                tokens=self.ctx.tokens,
                page_token=request.page_token,
                size=page_size(request.page_size),
                query={"m": "ListTemplates"},
            )
        return notify_service_pb2.ListTemplatesResponse(
            templates=[template_message(r, self.ctx.templates.compiled(r)) for r in page.rows],
            next_page_token=page.next_page_token,
        )

    async def UpdateTemplate(  # noqa: N802
        self, request: notify_service_pb2.UpdateTemplateRequest, context: grpc.aio.ServicerContext
    ) -> template_pb2.Template:
        """Change the named fields; the result must compile."""
        principal = require_roles(*TEMPLATE_ADMIN_ROLES)
        template_id = TEMPLATE.parse(request.template.name, "template.name")["template"]
        paths = resolve_mask(
            request.update_mask,
            mutable=MUTABLE,
            protected=(),
            resource=template_pb2.Template.DESCRIPTOR,
        )

        async def work(session: AsyncSession) -> template_pb2.Template:
            row = await _stored(session, template_id, request.template.name)
            _check_etag(request.template.etag, row)
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
            return template_message(row, compiled)

        return await self._mutation(
            request, "UpdateTemplate", template_pb2.Template, work, principal.subject
        )

    async def DeleteTemplate(  # noqa: N802
        self, request: notify_service_pb2.DeleteTemplateRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Delete a template that is not built in."""
        principal = require_roles(*TEMPLATE_ADMIN_ROLES)
        template_id = names.parse(request, "name")["template"]

        async def work(session: AsyncSession) -> empty_pb2.Empty:
            row = await _stored(session, template_id, request.name)
            if row.built_in:
                raise FailedPrecondition(
                    "built-in templates can be edited but not deleted", reason="TEMPLATE_BUILT_IN"
                )
            _check_etag(request.etag, row)
            await session.delete(row)
            return empty_pb2.Empty()

        return await self._mutation(
            request, "DeleteTemplate", empty_pb2.Empty, work, principal.subject
        )

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
