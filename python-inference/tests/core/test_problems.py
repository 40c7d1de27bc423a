"""A problem's hint of when to try again reaches the caller over either transport, from the problem itself."""

from __future__ import annotations

import grpc
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.api.errors import register_error_handlers
from app.core.problems import OVERLOADED_RETRY_AFTER_S, ProblemError, not_ready, overloaded
from app.rpc.errors import RETRY_AFTER_KEY, to_rpc_problem


def test_an_overload_says_when_to_try_again_and_other_problems_do_not() -> None:
    assert overloaded(4).retry_after_s == OVERLOADED_RETRY_AFTER_S
    assert not_ready().retry_after_s is None


def test_a_problem_raised_in_a_route_is_answered_with_its_retry_after_header_and_member() -> None:
    app = FastAPI()
    register_error_handlers(app)

    @app.get("/busy")
    async def busy() -> None:
        raise ProblemError(503, "overloaded", "Busy.", retry_after_s=7)

    @app.get("/unready")
    async def unready() -> None:
        raise not_ready()

    with TestClient(app) as client:
        refused, unready_answer = client.get("/busy"), client.get("/unready")

    assert (refused.status_code, refused.headers["retry-after"], refused.json()["retryAfter"]) == (503, "7", 7)
    assert "retry-after" not in unready_answer.headers
    assert "retryAfter" not in unready_answer.json()


def test_a_problem_ending_a_grpc_call_carries_its_retry_after_trailer() -> None:
    problem = to_rpc_problem(ProblemError(503, "overloaded", "Busy.", retry_after_s=7))

    assert problem.status is grpc.StatusCode.UNAVAILABLE
    assert (RETRY_AFTER_KEY, "7") in problem.trailing_metadata()
    assert all(key != RETRY_AFTER_KEY for key, _ in to_rpc_problem(not_ready()).trailing_metadata())
