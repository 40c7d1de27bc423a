"""The generated protobuf and gRPC modules for protos/*.proto.

scripts/setup.sh generates them into python-inference/.generated/protos (git-ignored, regenerated when a .proto
changes); protoc's imports are absolute (`from inference.v1 import inference_pb2`), so that folder joins sys.path.
"""

from __future__ import annotations

import sys

from app.core.config import SERVICE_ROOT

GENERATED_DIR = SERVICE_ROOT / ".generated" / "protos"

if str(GENERATED_DIR) not in sys.path:
    sys.path.append(str(GENERATED_DIR))

try:
    from google.rpc import error_details_pb2, status_pb2
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from inference.v1 import inference_pb2, inference_pb2_grpc
    from registry.v1 import registry_pb2, registry_pb2_grpc
except ImportError as error:  # pragma: no cover - a set-up problem, not a code path
    raise ImportError(f"gRPC stubs missing in {GENERATED_DIR}: run scripts/setup.sh ({error})") from error

__all__ = [
    "GENERATED_DIR",
    "error_details_pb2",
    "health_pb2",
    "health_pb2_grpc",
    "inference_pb2",
    "inference_pb2_grpc",
    "registry_pb2",
    "registry_pb2_grpc",
    "status_pb2",
]
