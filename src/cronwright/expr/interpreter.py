"""Compiled expressions and the tree-walking interpreter that evaluates them over JSON contexts.

Evaluation only reads the context: it looks up keys of dicts and items of lists, never attributes
or methods of Python objects, and it never mutates anything. Results may share structure with the
context (``evaluate("job.params", ctx)`` returns the very dict), so callers treat them as
read-only. Each evaluation has a step budget; the syntax tree's height is bounded by the parser,
so the interpreter's recursion is bounded too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from .convert import get_dot, get_key
from .errors import Budget, ExprError
from .functions import BUILTINS, call_builtin
from .nodes import (
    ArrayLiteral,
    Attr,
    Call,
    Chain,
    Conditional,
    Filter,
    Index,
    Literal,
    Logical,
    Name,
    Node,
    ObjectLiteral,
    Path,
    Pipe,
    RelativeName,
    Unary,
)
from .operators import binary, negate
from .parser import parse
from .values import UNDEFINED, Kind, is_truthy, kind_of

HostFunctions = Mapping[str, Callable[..., Any]]
"""Extra functions supplied by the caller (trusted code), called with evaluated JSON arguments."""


class Expression:
    """A parsed expression; :meth:`evaluate` runs it against a context any number of times.

    ``function_names`` lists the names called as functions or transforms, so a validator can
    report unknown ones when an event or web hook is saved (unknown names fail at evaluation, as
    in JEXL, which also lets callers supply extra functions).
    """

    __slots__ = ("_root", "function_names", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        if not isinstance(source, str):
            raise ExprError("An expression must be a string")
        try:
            self._root = parse(source)
        except RecursionError:
            raise ExprError("Expression is nested too deeply") from None
        names: set[str] = set()
        _collect_functions(self._root, names)
        self.function_names: frozenset[str] = frozenset(names)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def unknown_functions(self, extra: frozenset[str] = frozenset()) -> frozenset[str]:
        """Called names that are neither built in nor in ``extra``."""
        return frozenset(name for name in self.function_names if name not in BUILTINS and name not in extra)

    def evaluate(self, context: Mapping[str, Any], *, functions: HostFunctions | None = None) -> Any:
        """Evaluate against ``context``; returns a JSON value or :data:`UNDEFINED`, or raises :class:`ExprError`."""
        return self.run(context, Budget(), functions)

    def run(self, context: Mapping[str, Any], budget: Budget, functions: HostFunctions | None = None) -> Any:
        """Evaluate with an explicit budget (templates share one budget across their macros)."""
        if not isinstance(context, Mapping):
            raise ExprError("The expression context must be an object")
        evaluator = _Evaluator(context, budget, functions or {})
        try:
            return evaluator.eval(self._root)
        except ExprError:
            raise
        except RecursionError:
            raise ExprError("Expression is nested too deeply to evaluate") from None
        except Exception as exc:  # a bug or a misbehaving host function must not escape as anything else
            raise ExprError(f"Internal error while evaluating the expression ({type(exc).__name__})") from exc


def _collect_functions(node: Node, names: set[str]) -> None:
    if isinstance(node, Call):
        names.add(node.name)
    if isinstance(node, Path):
        names.update(step.name for step in node.steps if isinstance(step, Pipe))
    for child in _children(node):
        _collect_functions(child, names)


def _children(node: Node) -> list[Node]:
    if isinstance(node, Path):
        found = [node.base]
        for step in node.steps:
            if isinstance(step, (Index, Filter)):
                found.append(step.expr)
            elif isinstance(step, Pipe):
                found.extend(step.args)
        return found
    if isinstance(node, (Chain, Logical)):
        return [node.first, *(child for _, child in node.rest)]
    if isinstance(node, Conditional):
        return [child for child in (node.test, node.then, node.otherwise) if child is not None]
    if isinstance(node, (ArrayLiteral, Call)):
        return list(node.items if isinstance(node, ArrayLiteral) else node.args)
    if isinstance(node, ObjectLiteral):
        return [child for _, child in node.entries]
    if isinstance(node, Unary):
        return [node.operand]
    return []


class _Evaluator:
    """One evaluation: the context, the budget, host functions and the stack of filter elements."""

    __slots__ = ("budget", "context", "functions", "relative")

    def __init__(self, context: Mapping[str, Any], budget: Budget, functions: HostFunctions) -> None:
        self.context = context
        self.budget = budget
        self.functions = functions
        self.relative: list[Any] = []

    def eval(self, node: Node) -> Any:
        self.budget.charge()
        return _HANDLERS[type(node)](self, node)

    def literal(self, node: Literal) -> Any:
        return node.value

    def name(self, node: Name) -> Any:
        found = self.context.get(node.name, UNDEFINED)
        return found if kind_of(found) is not Kind.UNDEFINED else UNDEFINED

    def relative_name(self, node: RelativeName) -> Any:
        return get_key(self.relative[-1], node.name) if self.relative else UNDEFINED

    def path(self, node: Path) -> Any:
        value = self.eval(node.base)
        for step in node.steps:
            self.budget.charge()
            if isinstance(step, Attr):
                value = get_dot(value, step.name)
            elif isinstance(step, Index):
                key = self.eval(step.expr)
                # JEXL: subject[true] is the subject itself, subject[false] is undefined
                boolean = kind_of(key) is Kind.BOOLEAN
                value = (value if key else UNDEFINED) if boolean else get_key(value, key)
            elif isinstance(step, Filter):
                value = self.filter(value, step.expr)
            else:
                value = self.call(step.name, [value, *(self.eval(arg) for arg in step.args)])
        return value

    def filter(self, subject: Any, expr: Node) -> list[Any]:
        kind = kind_of(subject)
        items = subject if kind is Kind.ARRAY else [] if kind is Kind.UNDEFINED else [subject]
        kept = []
        for item in items:
            self.relative.append(item)
            try:
                if is_truthy(self.eval(expr)):
                    kept.append(item)
            finally:
                self.relative.pop()
        return kept

    def array(self, node: ArrayLiteral) -> Any:
        values = (self.eval(item) for item in node.items)
        return [None if kind_of(value) is Kind.UNDEFINED else value for value in values]

    def object(self, node: ObjectLiteral) -> Any:
        result = {}
        for key, item in node.entries:
            value = self.eval(item)
            if kind_of(value) is not Kind.UNDEFINED:
                result[key] = value
        return result

    def unary(self, node: Unary) -> Any:
        value = self.eval(node.operand)
        return (not is_truthy(value)) if node.op == "!" else negate(value)

    def chain(self, node: Chain) -> Any:
        value = self.eval(node.first)
        for op, operand in node.rest:
            value = binary(op, value, self.eval(operand), self.budget)
        return value

    def logical(self, node: Logical) -> Any:
        value = self.eval(node.first)
        for op, operand in node.rest:
            if is_truthy(value) == (op == "&&"):
                value = self.eval(operand)
        return value

    def conditional(self, node: Conditional) -> Any:
        test = self.eval(node.test)
        if is_truthy(test):
            return test if node.then is None else self.eval(node.then)
        return self.eval(node.otherwise)

    def call_node(self, node: Call) -> Any:
        return self.call(node.name, [self.eval(arg) for arg in node.args])

    def call(self, name: str, args: list[Any]) -> Any:
        if name in BUILTINS or name not in self.functions:
            return call_builtin(name, args, self.budget)
        try:
            result = self.functions[name](*args)
        except ExprError:
            raise
        except Exception as exc:
            raise ExprError(f"Function {name}() failed: {exc}") from exc
        return result if kind_of(result) is not Kind.UNDEFINED else UNDEFINED


_HANDLERS: Final[dict[type, Callable[[_Evaluator, Any], Any]]] = {
    Literal: _Evaluator.literal,
    Name: _Evaluator.name,
    RelativeName: _Evaluator.relative_name,
    Path: _Evaluator.path,
    ArrayLiteral: _Evaluator.array,
    ObjectLiteral: _Evaluator.object,
    Unary: _Evaluator.unary,
    Chain: _Evaluator.chain,
    Logical: _Evaluator.logical,
    Conditional: _Evaluator.conditional,
    Call: _Evaluator.call_node,
}
