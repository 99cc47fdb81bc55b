"""The CRM platform's gRPC contracts for callers.

- `crm.<service>.v1` modules: the generated messages and stubs (`*_pb2`, `*_pb2_grpc`), with
  their `.proto` sources beside them;
- `descriptor_set_bytes()`: every contract file and its imports as one FileDescriptorSet (for
  tools and dynamic clients when the server's reflection is off);
- `crm_contracts.service_config`: deadlines and retry policies as gRPC service config.
"""

from __future__ import annotations

from importlib import resources

DESCRIPTOR_SET_RESOURCE = "descriptor_set.binpb"


def descriptor_set_bytes() -> bytes:
    """Return the serialized google.protobuf.FileDescriptorSet (imports included)."""
    return resources.files(__name__).joinpath(DESCRIPTOR_SET_RESOURCE).read_bytes()
