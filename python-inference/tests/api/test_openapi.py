from __future__ import annotations

from fastapi.testclient import TestClient


def test_openapi_documents_problem_400s_and_no_fastapi_422s(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    statuses = {
        (path, method): set(operation["responses"])
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }
    assert all("422" not in documented for documented in statuses.values()), statuses
    assert {"200", "400", "404"} <= statuses[("/v1/predict", "post")]
    problem = spec["paths"]["/v1/predict"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]
    assert problem["$ref"].endswith("/Problem")
    assert "HTTPValidationError" not in spec["components"]["schemas"]
