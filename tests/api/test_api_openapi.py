"""The OpenAPI document is complete enough to generate a client from it."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from api.app import create_app
from api.routers import ROUTERS

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def spec(app):
    return app.openapi()


def _operations(spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_route_is_documented_with_a_response_model(app, spec):
    """Every route the app serves is in the document, and its success answer has a named JSON schema."""
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 35
    assert sum(len(ops) for ops in spec["paths"].values()) == sum(len(r.methods) for r in routes)
    for route in routes:
        assert route.response_model is not None, f"{route.path} declares no response model"
        for method in route.methods:
            op = spec["paths"][route.path][method.lower()]
            success = op["responses"][str(route.status_code or 200)]
            schema = success["content"]["application/json"]["schema"]
            assert schema.get("$ref", "").startswith("#/components/schemas/"), (route.path, schema)


def test_every_operation_documents_its_problems(spec):
    """Operations with input document 422 as problem+json; all but liveness document 503; no FastAPI default 422."""
    for path, method, op in _operations(spec):
        responses = op["responses"]
        has_input = bool(op.get("parameters")) or "requestBody" in op
        if has_input:
            assert responses["422"]["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (path, method)
        if path != "/health/live":
            assert responses["503"]["content"]["application/problem+json"]["schema"] == PROBLEM_REF
            assert "Retry-After" in responses["503"]["headers"]
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert set(response["content"]) == {"application/problem+json"}, (path, method, status)
        if method == "post" and "{" in path:
            assert "404" in responses, f"{method} {path} does not document its unknown-id answer"
        if method == "post":
            assert "409" in responses, f"{method} {path} does not document rule violations"
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_created_answers_document_location(spec):
    """Every 201 answer documents its Location header."""
    created = [(p, op) for p, m, op in _operations(spec) if "201" in op["responses"]]
    assert len(created) >= 13
    for path, op in created:
        assert "Location" in op["responses"]["201"]["headers"], path


def test_operation_ids_are_unique_names(spec):
    """Operation ids are unique function names, so generated clients get readable methods."""
    ids = [op["operationId"] for _, _, op in _operations(spec)]
    assert len(ids) == len(set(ids))
    assert all(i.isidentifier() and not i.endswith(("_post", "_get")) for i in ids)


def test_request_bodies_are_closed_and_codes_are_enums(spec):
    """Command bodies refuse unknown fields and closed code sets appear as named enums."""
    schemas = spec["components"]["schemas"]
    for path, _, op in _operations(spec):
        if "requestBody" in op:
            if "application/json" not in op["requestBody"]["content"]:  # NDJSON uploads: one line's schema
                line = op["requestBody"]["content"]["application/x-ndjson"]["schema"]
                assert all(one["additionalProperties"] is False for one in line.get("oneOf", [line])), path
                continue
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            body = schemas[ref.rsplit("/", 1)[1]]
            assert body.get("additionalProperties") is False, (path, body)
    assert set(schemas["FacilityKind"]["enum"]) >= {"national_warehouse", "vaccination_point"}
    assert "pfizer" in schemas["VaccineCode"]["enum"]
    assert schemas["Source"]["enum"] == sorted(schemas["Source"]["enum"])


def test_every_reference_resolves(spec):
    """Every `$ref` in the document names a schema that exists."""
    names = set(spec["components"]["schemas"])
    for ref in _refs(spec):
        assert ref.rsplit("/", 1)[1] in names, ref


def test_document_has_title_version_and_description(spec, client):
    """The document names the API, its version and how to use it, and is served at /openapi.json."""
    assert spec["info"]["title"] and spec["info"]["version"] and "min_position" in spec["info"]["description"]
    assert client.get("/openapi.json").json()["paths"].keys() == spec["paths"].keys()
