from __future__ import annotations

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error response (see app/api/errors.py)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str = Field(..., description="The request path.")
    code: str = Field(..., description="Stable machine-readable error code.")
    traceId: str = Field(..., description="W3C trace id of the request (32 hex characters).")
    errors: dict[str, list[str]] | None = Field(None, description="Field path -> messages, for validation errors.")
