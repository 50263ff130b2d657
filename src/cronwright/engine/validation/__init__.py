"""Pure validation of Events API payloads (no I/O, no clock, no store): raises ``api_error`` or returns.

Modules: ``params`` (requireParams & friends, param definitions/values), ``triggers``, ``limits``,
``actions``, ``fields``, ``event`` (the whole ``requireValidEventData``), ``lookup`` (the read-only
entity view validation needs), ``jsvalue`` (the JS value semantics xyOps relies on), ``advice`` (the
``warnings`` about a saved event: accepted, but probably a mistake).
"""

from cronwright.engine.validation.actions import validate_actions
from cronwright.engine.validation.event import validate_create_request, validate_event_data
from cronwright.engine.validation.fields import validate_fields
from cronwright.engine.validation.jsvalue import js_loose_true, js_truthy, js_typeof
from cronwright.engine.validation.limits import validate_limits
from cronwright.engine.validation.lookup import DictLookup, Lookup
from cronwright.engine.validation.paramdefs import parse_range
from cronwright.engine.validation.params import (
    ID_RE,
    OVERRIDE_RESERVED_RE,
    RESERVED_WORDS,
    WORD_RE,
    js_string,
    require_params,
    strip_html_fields,
    validate_optional_params,
    validate_param_definitions,
    validate_param_values,
)
from cronwright.engine.validation.trigger_prep import sha256_hex
from cronwright.engine.validation.triggers import (
    apply_field_defaults,
    hash_magic_keys,
    normalize_trigger_epochs,
    validate_triggers,
)

__all__ = [
    "ID_RE",
    "OVERRIDE_RESERVED_RE",
    "RESERVED_WORDS",
    "WORD_RE",
    "DictLookup",
    "Lookup",
    "apply_field_defaults",
    "hash_magic_keys",
    "js_loose_true",
    "js_string",
    "js_truthy",
    "js_typeof",
    "normalize_trigger_epochs",
    "parse_range",
    "require_params",
    "sha256_hex",
    "strip_html_fields",
    "validate_actions",
    "validate_create_request",
    "validate_event_data",
    "validate_fields",
    "validate_limits",
    "validate_optional_params",
    "validate_param_definitions",
    "validate_param_values",
    "validate_triggers",
]
