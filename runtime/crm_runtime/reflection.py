"""Server reflection in both protocol versions: grpc.reflection.v1 and v1alpha.

grpcio-reflection ships only v1alpha (grpc/grpc#38576), while current tools (grpcurl, Postman,
grpc-java's client) ask for v1 first. The two protocols are the same schema under two package
names, so one servicer answers both: its messages are byte-identical on the wire. The v1
descriptor is derived from the v1alpha one (package and type names rewritten) and added to
the default pool, so a client reflecting on the reflection service itself finds v1 too.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection as reflection_v1alpha
from grpc_reflection.v1alpha import reflection_pb2

V1ALPHA_SERVICE_NAME: str = reflection_v1alpha.SERVICE_NAME
V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"
_V1_FILE = "grpc/reflection/v1/reflection.proto"
SERVICE_NAMES = (V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)


def _v1_file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """Return v1alpha's file descriptor renamed to v1 (same messages, fields and numbers)."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    old_prefix = f".{proto.package}."
    proto.name, proto.package = _V1_FILE, V1_PACKAGE
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old_prefix):
                field.type_name = f".{V1_PACKAGE}.{field.type_name[len(old_prefix) :]}"
    for service in proto.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old_prefix, f".{V1_PACKAGE}.")
            method.output_type = method.output_type.replace(old_prefix, f".{V1_PACKAGE}.")
    return proto


def _register_v1_descriptor() -> None:
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(_V1_FILE)
    except KeyError:
        pool.Add(_v1_file_descriptor())


def enable_reflection(service_names: Sequence[str], server: grpc.aio.Server) -> None:
    """Serve reflection v1 and v1alpha on `server`, listing `service_names` and both versions."""
    _register_v1_descriptor()
    servicer = reflection_v1alpha.aio.ReflectionServicer([*service_names, *SERVICE_NAMES])
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": handler})
            for name in SERVICE_NAMES
        ]
    )
