"""Resource names parsed from the `google.api.resource` patterns the protos declare (AIP-122).

A resource message carries its pattern (`option (google.api.resource) = {type: …, pattern:
"clients/{client}/facilities/{facility}"}`); a request field that names one carries
`(google.api.resource_reference)` with the `type` it names or, for a list's parent, the
`child_type` it holds. Handlers ask for the ids in a field and get them by variable name, so
the contract is the one place a name's shape is written down.

Every id segment follows one rule: 1-64 URL-safe characters (letters, digits, '-', '_'),
starting with a letter or digit. Ids the services generate (32 hex) fit it; ids other bank
systems send (a facility number from the core system) fit it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from google.api import resource_pb2
from google.protobuf.descriptor import Descriptor, FileDescriptor
from google.protobuf.message import Message

from crm_runtime.errors import InvalidArgument

ID_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_VARIABLE = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class NamePattern:
    """One resource name pattern, e.g. clients/{client}/facilities/{facility}."""

    pattern: str
    regex: re.Pattern[str]
    variables: tuple[str, ...]

    @classmethod
    def of(cls, pattern: str) -> NamePattern:
        """Compile a pattern; literal segments match themselves, variables match one id."""
        variables = tuple(_VARIABLE.findall(pattern))
        parts = [
            f"(?P<{m.group(1)}>{ID_SEGMENT})" if (m := _VARIABLE.fullmatch(segment))
            else re.escape(segment)
            for segment in pattern.split("/")
        ]
        return cls(pattern, re.compile("/".join(parts)), variables)

    def parse(self, name: str, field: str) -> dict[str, str]:
        """Return the ids in `name` by variable, or INVALID_ARGUMENT naming `field`."""
        match = self.regex.fullmatch(name)
        if match is None:
            raise InvalidArgument.of(field, f"must be a resource name like {self.pattern}")
        return match.groupdict()

    def format(self, **ids: str) -> str:
        """Return the name with each variable replaced by its id."""
        return _VARIABLE.sub(lambda m: ids[m.group(1)], self.pattern)

    def parent(self) -> NamePattern:
        """Return the pattern of this resource's parent (drop the last collection and id)."""
        return NamePattern.of("/".join(self.pattern.split("/")[:-2]))


def pattern_of(message: type[Message] | Descriptor) -> NamePattern:
    """Return the name pattern a resource message declares."""
    descriptor = message if isinstance(message, Descriptor) else message.DESCRIPTOR
    return _declared(descriptor.full_name, descriptor)


@cache
def _declared(full_name: str, descriptor: Descriptor) -> NamePattern:
    resource = descriptor.GetOptions().Extensions[resource_pb2.resource]
    if not resource.pattern:
        raise LookupError(f"{full_name} declares no google.api.resource pattern")
    return NamePattern.of(resource.pattern[0])


def _resources(file: FileDescriptor, seen: set[str]) -> dict[str, NamePattern]:
    """Return the pattern of every resource `file` and the files it imports declare, by type.

    A resource message declares its own; a file declares one another API owns (the risk
    service refers to the client service's clients) with `google.api.resource_definition`.
    """
    if file.name in seen:
        return {}
    seen.add(file.name)
    found: dict[str, NamePattern] = {}
    for dependency in file.dependencies:
        found.update(_resources(dependency, seen))
    for definition in file.GetOptions().Extensions[resource_pb2.resource_definition]:
        found[definition.type] = NamePattern.of(definition.pattern[0])
    for descriptor in file.message_types_by_name.values():
        resource = descriptor.GetOptions().Extensions[resource_pb2.resource]
        if resource.type:
            found[resource.type] = pattern_of(descriptor)
    return found


@cache
def _field_pattern(request_name: str, field: str, descriptor: Descriptor) -> NamePattern:
    options = descriptor.fields_by_name[field].GetOptions()
    reference = options.Extensions[resource_pb2.resource_reference]
    wanted = reference.type or reference.child_type
    if not wanted:
        raise LookupError(f"{request_name}.{field} declares no google.api.resource_reference")
    resources = _resources(descriptor.file, set())
    if wanted not in resources:
        raise LookupError(f"{request_name}.{field} names {wanted}, which no imported file declares")
    pattern = resources[wanted]
    return pattern if reference.type else pattern.parent()


def field_pattern(request: Message | type[Message], field: str) -> NamePattern:
    """Return the pattern of the resource a request field references."""
    descriptor = request.DESCRIPTOR
    return _field_pattern(descriptor.full_name, field, descriptor)


def parse(request: Message, field: str, *, path: str | None = None) -> dict[str, str]:
    """Return the ids named by `request.<field>` by variable, or INVALID_ARGUMENT.

    `path` is the field path reported in the violation when it differs from `field` (a
    name inside a nested message).
    """
    return field_pattern(request, field).parse(str(getattr(request, field)), path or field)


def reference_pattern(descriptor: Descriptor, field: str) -> NamePattern:
    """Return the pattern of the resource `descriptor.<field>` references (LookupError if none)."""
    return _field_pattern(descriptor.full_name, field, descriptor)
