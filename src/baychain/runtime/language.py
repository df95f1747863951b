"""The contract language: a deterministic subset of Python, checked before deploy.

A contract is one Python module. `check(source)` parses it and walks the syntax tree
against a whitelist; anything not on it is refused with CONTRACT_INVALID and a sentence
naming the line. What is left cannot reach the host, cannot observe anything that
differs between nodes, and runs only under the meter that `instrument` adds:

- module level: a docstring, `from contract import ...` (the contract standard library,
  also in scope without importing), constants (int, str, bytes, bool, None, tuples of
  them, `Decimal("1.5")`), storage declarations (`balances = Map(int, default=0)`,
  `owner = Var(str)`) and functions. Nothing else runs at load time.
- functions: module-level `def` only. `@export` makes a method (changes state),
  `@view` a read-only view; undecorated functions are private helpers. Exported
  arguments carry type hints (int, str, bytes, bool, list, dict): the interface.
  Defaults are constants. No `*args`/`**kwargs`, no nested functions, no lambdas, no
  recursion (the call graph is checked for cycles, so stack depth is bounded by the
  code itself), and a function is only ever called, never passed around.
- statements: assignment, augmented assignment, `if`, `for`, `while`, `break`,
  `continue`, `return`, `pass`, `del x[k]`. No `try`/`raise`/`assert` (errors are
  `require`/`fail`, which end the call), no `with`, `global`, classes, generators,
  `async`, `import` of anything but the standard library, walrus or `match`.
- values: integers and the fixed-point `Decimal` (no float literals; `/` works on
  Decimals only), str, bytes, bool, None, list, dict, tuple. No sets.
- names: none may start or end with an underscore, so no dunder is ever reachable;
  attributes are limited to a short list of plain-data methods and `ctx` fields, so
  no walk to frames, globals, classes or builtins exists; builtins are a small safe set
  (no getattr, eval, open, print, id, hash, type, format ...).
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

from baychain.contracts.base import Param
from baychain.errors import BaychainError, Code

MAX_SOURCE_BYTES = 64 * 1024
MAX_NESTING = 40  # syntax-tree depth: bounds the compiler's and the interpreter's recursion
MAX_FUNCTIONS = 200
MAX_CALL_CHAIN = 32  # longest chain of calls between a contract's functions: bounds the host stack
STDLIB_MODULE = "contract"

ARG_TYPES: dict[str, type] = {"int": int, "str": str, "bytes": bytes, "bool": bool, "list": list, "dict": dict}
TYPE_NAMES = frozenset({*ARG_TYPES, "tuple", "Decimal"})  # may be used as values (isinstance, Map(int))
BUILTINS = frozenset({
    "abs", "all", "any", "chr", "divmod", "enumerate", "hex", "isinstance", "len", "max", "min", "ord", "range",
    "reversed", "sorted", "sum", "zip",
})
STDLIB = frozenset({"Map", "Var", "emit", "alert", "require", "fail", "call", "param", "sha256", "is_address"})
DECORATORS = frozenset({"export", "view"})
STORAGE_TYPES = frozenset({"Map", "Var"})
CTX = "ctx"
CTX_FIELDS = frozenset({"sender", "signer", "organisation", "jurisdiction", "role", "height", "time", "tx_hash",
                        "contract"})
# Every attribute a contract may name, on any object: plain-data methods that return
# plain data, `ctx` fields and storage methods. Frames, code, globals and classes have
# no name on this list, so they cannot be reached by any chain of attributes.
ATTRIBUTES = frozenset({
    # str / bytes
    "lower", "upper", "strip", "lstrip", "rstrip", "split", "startswith", "endswith", "find", "count",
    "isdigit", "isalpha", "isalnum", "islower", "isupper", "encode", "decode", "hex", "join", "replace",
    # list
    "append", "insert", "pop", "index", "remove", "reverse", "sort", "clear",
    # dict and storage
    "get", "keys", "values", "items", "setdefault", "update", "set",
    *CTX_FIELDS,
})
FORBIDDEN_HINTS = {
    "getattr": "attribute access by name could reach the interpreter",
    "setattr": "attribute access by name could reach the interpreter",
    "eval": "code cannot run code", "exec": "code cannot run code", "compile": "code cannot run code",
    "open": "contracts do no I/O", "print": "contracts do no I/O (emit an event instead)",
    "input": "contracts do no I/O", "id": "object addresses differ between nodes",
    "hash": "hashes of strings differ between processes", "type": "types are not values in contracts",
    "set": "set iteration order is not deterministic", "frozenset": "set iteration order is not deterministic",
    "float": "floats are not deterministic across machines: use int or Decimal",
    "globals": "the namespace is not reachable", "locals": "the namespace is not reachable",
    "vars": "the namespace is not reachable", "dir": "the namespace is not reachable",
    "format": "use f-strings without format specifications", "repr": "use str()",
    "object": "types are not values in contracts", "super": "there are no classes",
}
_NODE_NAMES = {
    ast.Import: "import", ast.ImportFrom: "import", ast.Lambda: "lambda", ast.ClassDef: "class",
    ast.Try: "try", ast.Raise: "raise (use fail or require)", ast.Assert: "assert (use require)",
    ast.With: "with", ast.Global: "global", ast.Nonlocal: "nonlocal", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Await: "await", ast.AsyncFunctionDef: "async def", ast.AsyncFor: "async for",
    ast.AsyncWith: "async with", ast.Set: "a set", ast.SetComp: "a set comprehension",
    ast.NamedExpr: "the walrus operator", ast.Match: "match", ast.AnnAssign: "an annotated assignment",
    ast.MatMult: "the @ operator",
}
_ALLOWED_EXPR = (
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Dict, ast.List, ast.Tuple, ast.ListComp,
    ast.DictComp, ast.GeneratorExp, ast.Call, ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.Slice,
    ast.Starred, ast.JoinedStr, ast.FormattedValue,
)
_ALLOWED_OPS = (
    ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift,
    ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.Invert, ast.Not, ast.UAdd, ast.USub, ast.Eq, ast.NotEq,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn, ast.Load, ast.Store, ast.Del,
)
GUARDED_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Pow, ast.LShift, ast.Div, ast.Mod)  # results can grow or leave the value model


@dataclass(frozen=True, slots=True)
class Export:
    """One method of a contract's interface."""

    name: str
    params: tuple[Param, ...]
    doc: str
    is_view: bool


@dataclass(frozen=True, slots=True)
class Program:
    """A checked contract: its syntax tree and its interface."""

    tree: ast.Module
    doc: str
    exports: dict[str, Export]
    storage: tuple[str, ...]  # names of its Map and Var declarations


def check(source: str) -> Program:
    """Parse and check a contract's source; raise CONTRACT_INVALID saying what is refused."""
    if type(source) is not str:
        raise _invalid(0, "the source must be text")
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise _invalid(0, f"the source is larger than {MAX_SOURCE_BYTES} bytes")
    try:
        with warnings.catch_warnings():  # a node's warning filters must not change the verdict
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename="<contract>", mode="exec")
    except SyntaxError as exc:
        raise _invalid(exc.lineno or 0, f"syntax error: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise _invalid(0, "the source is nested too deeply to parse") from None
    return _Checker(tree).run()


def _invalid(line: int, message: str) -> BaychainError:
    where = f"line {line}: " if line else ""
    return BaychainError(Code.CONTRACT_INVALID, where + message)


def _edged(name: str) -> bool:
    return name.startswith("_") or name.endswith("_")


class _Checker:
    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.functions: dict[str, ast.FunctionDef] = {}
        self.globals: set[str] = set()
        self.calls: dict[str, list[str]] = {}
        self.current = ""
        self.local_names: set[str] = set()

    def run(self) -> Program:
        body = list(self.tree.body)
        doc = ""
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and type(body[0].value.value) is str:
            doc = body[0].value.value
            body = body[1:]
        for node in body:  # first pass: what the module defines
            if isinstance(node, ast.FunctionDef):
                self._name(node.name, node)
                if node.name in self.functions or node.name in self.globals:
                    raise _invalid(node.lineno, f"{node.name!r} is defined twice")
                self.functions[node.name] = node
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target = node.targets[0].id
                self._bindable(target, node)
                if target in self.functions or target in self.globals:
                    raise _invalid(node.lineno, f"{target!r} is defined twice")
                self.globals.add(target)
        if len(self.functions) > MAX_FUNCTIONS:
            raise _invalid(0, f"a contract may define at most {MAX_FUNCTIONS} functions")
        exports: dict[str, Export] = {}
        storage: list[str] = []
        prefixes: set[str] = set()
        for node in body:
            if isinstance(node, ast.ImportFrom):
                self._import(node)
            elif isinstance(node, ast.Assign):
                if self._module_constant(node):
                    target = node.targets[0].id  # type: ignore[attr-defined]
                    prefix = _prefix(node.value) or target  # type: ignore[arg-type]
                    if prefix in prefixes:
                        raise _invalid(node.lineno, f"two storage declarations share the prefix {prefix!r}")
                    prefixes.add(prefix)
                    storage.append(target)
            elif isinstance(node, ast.FunctionDef):
                export = self._function(node)
                if export is not None:
                    exports[export.name] = export
            else:
                raise _invalid(node.lineno, f"{_what(node)} at module level: the module holds only constants, "
                                            "storage declarations and functions")
        self._no_recursion()
        return Program(self.tree, doc, exports, tuple(storage))

    # -- module level ---------------------------------------------------------------------

    def _import(self, node: ast.ImportFrom) -> None:
        if node.module != STDLIB_MODULE or node.level:
            raise _invalid(node.lineno, f"only `from {STDLIB_MODULE} import ...` (the contract standard library) "
                                        "may be imported")
        for alias in node.names:
            if alias.asname is not None or alias.name not in STDLIB | DECORATORS | {"Decimal", CTX}:
                raise _invalid(node.lineno, f"{STDLIB_MODULE} has no {alias.name!r} to import (or it is renamed)")

    def _module_constant(self, node: ast.Assign) -> bool:
        """Check a module-level assignment; True if it declares storage."""
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            raise _invalid(node.lineno, "module-level assignments bind one name")
        value = node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in STORAGE_TYPES:
            for arg in [*value.args, *(k.value for k in value.keywords)]:
                self._constant(arg, allow_types=True)
            for k in value.keywords:
                if k.arg not in ("default", "iterable", "prefix"):
                    raise _invalid(node.lineno, f"{value.func.id} takes a type, `default=`, `iterable=` and `prefix=` only")
            return True
        if isinstance(value, (ast.BinOp, ast.UnaryOp)):
            node.value = ast.copy_location(ast.Constant(value=_fold(value)), value)  # MAX = 2**63 - 1
            return False
        self._constant(value, allow_types=False)
        return False

    def _constant(self, node: ast.expr, *, allow_types: bool) -> None:
        """Constants only: values that can never change after the module is loaded."""
        if isinstance(node, ast.Constant):
            self._literal(node)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
                and type(node.operand.value) is int:
            return
        elif isinstance(node, ast.Tuple):
            for elt in node.elts:
                self._constant(elt, allow_types=allow_types)
        elif allow_types and isinstance(node, ast.Name) and node.id in TYPE_NAMES:
            return
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Decimal" \
                and len(node.args) == 1 and not node.keywords:
            self._constant(node.args[0], allow_types=False)
        else:
            raise _invalid(getattr(node, "lineno", 0), "module-level values must be constants (int, str, bytes, bool, "
                                                       "None, Decimal, tuples of them) or Map/Var declarations")

    def _literal(self, node: ast.Constant) -> None:
        if type(node.value) not in (int, str, bytes, bool, type(None)):
            kind = type(node.value).__name__
            raise _invalid(node.lineno, f"{kind} literals are not allowed" +
                           (" (floats are not deterministic: use int or Decimal)" if kind == "float" else ""))

    # -- functions ------------------------------------------------------------------------

    def _function(self, node: ast.FunctionDef) -> Export | None:
        self.current = node.name
        self.calls[node.name] = []
        kind = ""
        for dec in node.decorator_list:
            if not isinstance(dec, ast.Name) or dec.id not in DECORATORS or kind:
                raise _invalid(node.lineno, "a function may have one decorator: @export or @view")
            kind = dec.id
        args = node.args
        if args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg:
            raise _invalid(node.lineno, f"{node.name}: only plain named parameters are allowed (no *, **, / or keyword-only)")
        for default in args.defaults:
            self._constant(default, allow_types=False)
        params: list[Param] = []
        first_default = len(args.args) - len(args.defaults)
        self.local_names = set()
        for i, arg in enumerate(args.args):
            self._bindable(arg.arg, arg)
            self.local_names.add(arg.arg)
            hint = arg.annotation
            if kind:
                if not (isinstance(hint, ast.Name) and hint.id in ARG_TYPES):
                    raise _invalid(node.lineno, f"{node.name}: exported parameter {arg.arg!r} needs a type hint: "
                                                + ", ".join(ARG_TYPES))
                default = ast.literal_eval(args.defaults[i - first_default]) if i >= first_default else None
                if i >= first_default and default is not None and type(default) is not ARG_TYPES[hint.id]:
                    raise _invalid(node.lineno, f"{node.name}: default of {arg.arg!r} is not a {hint.id}")
                params.append(Param(arg.arg, ARG_TYPES[hint.id], i < first_default, default))
            elif hint is not None:
                self._hint(hint)
        if node.returns is not None:
            self._hint(node.returns)
        self._collect_locals(node.body)
        for stmt in node.body:
            self._stmt(stmt, 1)
        if not kind:
            return None
        return Export(node.name, tuple(params), ast.get_docstring(node) or "", kind == "view")

    def _hint(self, node: ast.expr) -> None:
        ok = (isinstance(node, ast.Name) and node.id in TYPE_NAMES) or (isinstance(node, ast.Constant) and node.value is None)
        if not ok:
            raise _invalid(node.lineno, "type hints may name int, str, bytes, bool, list, dict, tuple, Decimal or None")

    def _collect_locals(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    self._bindable(node.id, node)
                    self.local_names.add(node.id)

    def _no_recursion(self) -> None:
        """Refuse cycles in the call graph, and call chains longer than MAX_CALL_CHAIN."""
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        longest: dict[str, int] = {}

        def visit(name: str, path: list[str]) -> None:
            if len(path) > MAX_CALL_CHAIN:
                raise _invalid(self.functions[name].lineno, f"calls between functions chain deeper than {MAX_CALL_CHAIN}")
            state[name] = 1
            depth = 1
            for callee in self.calls.get(name, []):
                if state.get(callee) == 1:
                    cycle = " -> ".join([*path[path.index(callee):], callee])
                    raise _invalid(self.functions[name].lineno, f"recursion is not allowed ({cycle})")
                if callee not in state:
                    visit(callee, [*path, callee])
                depth = max(depth, 1 + longest[callee])
            if depth > MAX_CALL_CHAIN:
                raise _invalid(self.functions[name].lineno, f"calls between functions chain deeper than {MAX_CALL_CHAIN}")
            longest[name] = depth
            state[name] = 2

        for name in sorted(self.functions):
            if name not in state:
                visit(name, [name])

    # -- statements -----------------------------------------------------------------------

    def _stmt(self, node: ast.stmt, depth: int) -> None:
        if depth > MAX_NESTING:
            raise _invalid(node.lineno, f"statements nest deeper than {MAX_NESTING} levels")
        if isinstance(node, ast.FunctionDef):
            raise _invalid(node.lineno, "functions are defined only at module level")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self._target(target, depth)
            self._expr(node.value, depth)
        elif isinstance(node, ast.AugAssign):
            self._target(node.target, depth, tuples=False)
            if isinstance(node.op, GUARDED_OPS) and isinstance(node.target, ast.Subscript) and not (
                    _simple(node.target.value) and _simple(node.target.slice)):
                raise _invalid(node.lineno, "augmented assignment to a computed subscript: assign it explicitly")
            self._op(node.op, node)
            self._expr(node.value, depth)
        elif isinstance(node, ast.Expr):
            self._expr(node.value, depth)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                self._expr(node.value, depth)
        elif isinstance(node, (ast.If, ast.While)):
            self._expr(node.test, depth)
            for s in [*node.body, *node.orelse]:
                self._stmt(s, depth + 1)
        elif isinstance(node, ast.For):
            self._target(node.target, depth)
            self._expr(node.iter, depth)
            for s in [*node.body, *node.orelse]:
                self._stmt(s, depth + 1)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if not isinstance(target, ast.Subscript) or isinstance(target.slice, ast.Slice):
                    raise _invalid(node.lineno, "del removes entries only: del mapping[key]")
                self._expr(target, depth)
        elif not isinstance(node, (ast.Pass, ast.Break, ast.Continue)):
            raise _invalid(node.lineno, f"{_what(node)} is not allowed in contracts")

    def _target(self, node: ast.expr, depth: int, *, tuples: bool = True) -> None:
        if isinstance(node, ast.Name):
            self._bindable(node.id, node)
        elif isinstance(node, ast.Subscript):
            if isinstance(node.slice, ast.Slice):
                raise _invalid(node.lineno, "slices cannot be assigned: build a new list")
            self._expr(node.value, depth)
            self._expr(node.slice, depth)
        elif tuples and isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                if not isinstance(elt, ast.Name):
                    raise _invalid(node.lineno, "unpacking assigns plain names only")
                self._bindable(elt.id, elt)
        elif isinstance(node, ast.Attribute):
            raise _invalid(node.lineno, "attributes cannot be assigned")
        else:
            raise _invalid(getattr(node, "lineno", 0), f"cannot assign to {_what(node)}")

    # -- expressions ----------------------------------------------------------------------

    def _expr(self, node: ast.AST, depth: int) -> None:
        if depth > MAX_NESTING:
            raise _invalid(getattr(node, "lineno", 0), f"expressions nest deeper than {MAX_NESTING} levels")
        if isinstance(node, ast.Call):
            self._call(node, depth)
            return
        if not isinstance(node, _ALLOWED_EXPR):
            raise _invalid(getattr(node, "lineno", 0), f"{_what(node)} is not allowed in contracts")
        if isinstance(node, ast.Constant):
            self._literal(node)
        elif isinstance(node, ast.Name):
            self._load(node)
            return
        elif isinstance(node, ast.Attribute):
            self._name(node.attr, node)
            if node.attr not in ATTRIBUTES:
                raise _invalid(node.lineno, f"attribute {node.attr!r} is not available to contracts")
            if not isinstance(node.ctx, ast.Load):
                raise _invalid(node.lineno, "attributes cannot be assigned")
            if isinstance(node.value, ast.Name) and node.value.id == CTX and node.attr not in CTX_FIELDS:
                raise _invalid(node.lineno, f"ctx has no field {node.attr!r}")
            self._expr(node.value, depth + 1)
            return
        elif isinstance(node, ast.Starred):
            raise _invalid(node.lineno, "* unpacking is allowed only in call arguments")
        elif isinstance(node, ast.FormattedValue):
            if node.conversion != -1 or node.format_spec is not None:
                raise _invalid(node.lineno, "f-string conversions and format specifications are not allowed")
        elif isinstance(node, (ast.ListComp, ast.DictComp, ast.GeneratorExp)):
            for gen in node.generators:
                if gen.is_async:
                    raise _invalid(node.lineno, "async comprehensions are not allowed")
                self._target(gen.target, depth)
                self.local_names.update(n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name))
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.comprehension):
                self._expr(child.iter, depth + 1)
                for cond in child.ifs:
                    self._expr(cond, depth + 1)
            elif isinstance(child, ast.expr):
                self._expr(child, depth + 1)
            elif isinstance(child, (ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.expr_context)):
                self._op(child, node)
            else:
                raise _invalid(getattr(node, "lineno", 0), f"{_what(child)} is not allowed in contracts")

    def _op(self, op: ast.AST, node: ast.AST) -> None:
        if not isinstance(op, _ALLOWED_OPS):
            raise _invalid(getattr(node, "lineno", 0), f"{_what(op)} is not allowed in contracts")

    def _call(self, node: ast.Call, depth: int) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            if name in self.functions:
                self.calls[self.current].append(name)
            elif name in STORAGE_TYPES:
                raise _invalid(node.lineno, f"{name} is declared at module level only")
            elif name not in BUILTINS | STDLIB | TYPE_NAMES:
                self._unknown(name, node)
        elif isinstance(func, ast.Attribute):
            self._expr(func, depth + 1)
        else:
            raise _invalid(node.lineno, "only named functions and methods can be called")
        for arg in node.args:
            self._expr(arg.value if isinstance(arg, ast.Starred) else arg, depth + 1)
        for kw in node.keywords:
            if kw.arg is not None:
                self._name(kw.arg, node)
            self._expr(kw.value, depth + 1)

    def _load(self, node: ast.Name) -> None:
        name = node.id
        self._name(name, node)
        if name in self.functions or name in BUILTINS or name in STDLIB or name in DECORATORS:
            raise _invalid(node.lineno, f"{name!r} can only be called, not used as a value")
        if name in TYPE_NAMES or name == CTX or name in self.globals or name in self.local_names:
            return
        if name in ("True", "False", "None"):
            return
        self._unknown(name, node)

    def _unknown(self, name: str, node: ast.AST) -> None:
        hint = FORBIDDEN_HINTS.get(name)
        line = getattr(node, "lineno", 0)
        if hint:
            raise _invalid(line, f"{name!r} is not available to contracts: {hint}")
        raise _invalid(line, f"unknown name {name!r}")

    def _name(self, name: str, node: ast.AST) -> None:
        if _edged(name):
            raise _invalid(getattr(node, "lineno", 0), f"names may not start or end with an underscore ({name!r})")

    def _bindable(self, name: str, node: ast.AST) -> None:
        self._name(name, node)
        reserved = BUILTINS | STDLIB | DECORATORS | TYPE_NAMES | {CTX} | set(self.functions)
        if name in reserved or name in FORBIDDEN_HINTS:
            raise _invalid(getattr(node, "lineno", 0), f"{name!r} is a reserved name and cannot be assigned")


_FOLD_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
             ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b, ast.Pow: lambda a, b: a**b,
             ast.LShift: lambda a, b: a << b}
FOLD_BITS = 512


def _fold(node: ast.expr) -> int:
    """Integer arithmetic on constants at module level (`MAX = 2**63 - 1`), done once at deploy."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_fold(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _FOLD_OPS:
        a, b = _fold(node.left), _fold(node.right)
        if isinstance(node.op, (ast.Pow, ast.LShift)) and (b < 0 or b > FOLD_BITS or a.bit_length() * max(b, 1) > FOLD_BITS):
            raise _invalid(node.lineno, f"constant too large (at most {FOLD_BITS} bits)")
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and b == 0:
            raise _invalid(node.lineno, "division by zero in a constant")
        value = _FOLD_OPS[type(node.op)](a, b)
        if value.bit_length() > FOLD_BITS:
            raise _invalid(node.lineno, f"constant too large (at most {FOLD_BITS} bits)")
        return value
    raise _invalid(getattr(node, "lineno", 0), "module-level arithmetic works on integer constants only")


def _prefix(call: ast.Call) -> str:
    """The `prefix=` of a storage declaration ("" if none): an identifier."""
    for k in call.keywords:
        if k.arg == "prefix":
            value = k.value.value if isinstance(k.value, ast.Constant) else None
            if type(value) is not str or not value.isascii() or not value.isidentifier() or _edged(value):
                raise _invalid(call.lineno, "a storage prefix is an identifier (a-z, 0-9, _)")
            return value
    return ""


def _simple(node: ast.expr) -> bool:
    """An expression without side effects (evaluating it twice is the same as once)."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    if isinstance(node, ast.Attribute):
        return isinstance(node.value, ast.Name) and node.value.id == CTX
    if isinstance(node, ast.Tuple):
        return all(_simple(e) for e in node.elts)
    return False


def _what(node: ast.AST) -> str:
    for kind, name in _NODE_NAMES.items():
        if isinstance(node, kind):
            return name
    return type(node).__name__
