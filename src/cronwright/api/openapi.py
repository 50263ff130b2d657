"""The OpenAPI 3.1 document, built from the endpoint registry and the pydantic models.

Served at ``/api/openapi.json``; ``/api/docs`` is Swagger UI 5 (it renders OpenAPI 3.1), vendored
in ``api/static/swagger-ui/`` and served by this server: the page loads nothing from other hosts
and runs no inline script (``DOCS_HEADERS``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from cronwright import __version__
from cronwright.api.registry import Endpoint
from cronwright.config import Settings
from cronwright.model import api as m

_ERROR_STATUSES = {
    "400": "Bad request: `api` (validation), `event`/entity codes for bad input",
    "403": "`session` (no or invalid credentials), `access` (missing privilege or scope) or `csrf` (a "
    "session-cookie request that must be a same-site POST)",
    "404": "Unknown id (`notfound`, `event`, entity codes) or unknown endpoint",
    "409": "Duplicate id, revision mismatch, or refused in the current state",
    "413": "Request body too large",
    "429": "`rate`: the API key exceeded its rate limit, too many failed logins, or too many magic-link calls",
}

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cronwright API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/api/docs/static/swagger-ui/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/api/docs/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/api/docs/static/docs.js"></script>
</body></html>
"""

#: the docs page runs only this server's scripts; Swagger UI sets inline styles and shows
#: ``data:`` images (``img-src``), and "Try it out" calls this server (``connect-src``)
DOCS_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def static_dir() -> str:
    """The directory served at ``/api/docs/static`` (the vendored Swagger UI and ``docs.js``)."""
    return str(Path(__file__).parent / "static")


def _models(endpoints: list[Endpoint]) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"Error": m.Error}
    for endpoint in endpoints:
        for model in (endpoint.request_model, endpoint.response_model):
            if model is not None:
                seen.setdefault(model.__name__, model)
    return list(seen.values())


def _query_parameters(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    """Scalar request fields also travel in the query string of a GET."""
    if model is None:
        return []
    params = []
    for name, field in model.model_fields.items():
        annotation = str(field.annotation)
        if any(t in annotation for t in ("dict", "list", "Trigger", "Limit", "Action", "ParamDef")):
            continue
        schema: dict[str, Any] = {"type": "string"}
        if "int" in annotation and "str" not in annotation:
            schema = {"type": "string", "pattern": r"^-?\d+$"}
        params.append(
            {
                "name": name,
                "in": "query",
                "required": field.is_required(),
                "schema": schema,
                "description": field.description or "",
            }
        )
    return params


def _operation(endpoint: Endpoint, method: str, refs: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{endpoint.name}_{method}",
        "summary": endpoint.summary,
        "description": endpoint.description,
        "tags": [endpoint.tag],
        "responses": {
            "200": _success(endpoint, refs),
            **{
                status: {"description": text, "content": {"application/json": {"schema": refs["Error"]}}}
                for status, text in _ERROR_STATUSES.items()
            },
        },
    }
    if not endpoint.auth:
        operation["security"] = []
    if method == "get":
        operation["parameters"] = _query_parameters(endpoint.request_model)
    else:
        body_schema = _ref(endpoint.request_model or m.Request, refs)
        content: dict[str, Any] = {"application/json": {"schema": body_schema}}
        if endpoint.multipart:
            content["multipart/form-data"] = {
                "schema": {
                    "type": "object",
                    "properties": {"json": {"type": "string", "description": "The JSON parameters."}},
                    "additionalProperties": {"type": "string", "format": "binary"},
                }
            }
        operation["requestBody"] = {"required": endpoint.request_model is not None, "content": content}
    return operation


def _success(endpoint: Endpoint, refs: dict[str, Any]) -> dict[str, Any]:
    if endpoint.raw:
        media = "text/event-stream" if endpoint.name == "stream_job" else "text/plain"
        return {
            "description": "The raw body (a log, or a stream of events)",
            "content": {media: {"schema": {"type": "string"}}},
        }
    return {
        "description": "Success (`code` 0)",
        "content": {"application/json": {"schema": _ref(endpoint.response_model or m.Ok, refs)}},
    }


def _ref(model: type[BaseModel], refs: dict[str, Any]) -> dict[str, Any]:
    return refs.get(model.__name__) or {"$ref": f"#/components/schemas/{model.__name__}"}


def build_document(endpoints: list[Endpoint], settings: Settings) -> dict[str, Any]:
    _, components = models_json_schema(
        [(model, "validation") for model in _models(endpoints)], ref_template="#/components/schemas/{model}"
    )
    schemas = components.get("$defs", {})
    refs = {name: {"$ref": f"#/components/schemas/{name}"} for name in schemas}
    paths: dict[str, Any] = {}
    for endpoint in endpoints:
        path = f"/api/{endpoint.namespace}/{endpoint.name}" + ("/v1" if endpoint.namespace == "app" else "")
        item: dict[str, Any] = {"post": _operation(endpoint, "post", refs)}
        # plain file uploads are POSTs: their GET form (no files, an error) is not documented
        if endpoint.style == "read" or (endpoint.style == "none" and not endpoint.multipart):
            item["get"] = _operation(endpoint, "get", refs)
        paths[path] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cronwright API",
            "version": __version__,
            "description": (
                "The xyOps Events API and its supporting APIs. Every endpoint also answers at "
                "`/api/app/NAME` (without `/v1`), where errors use HTTP 200 and only the `code` "
                "tells success from failure. Credentials: `X-API-Key` header (or `api_key` "
                "parameter) or a session (`X-Session-ID`)."
            ),
        },
        "servers": [{"url": settings.public_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "session": {"type": "apiKey", "in": "header", "name": "X-Session-ID"},
            },
        },
        "security": [{"apiKey": []}, {"session": []}],
    }
