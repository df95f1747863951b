"""Metering by rewriting the syntax tree: every node executed is paid for.

After `language.check` accepts a contract, `instrument` rewrites its tree so that the
interpreter itself keeps the count, identically on every node:

- every block (a function body, each loop iteration, each branch taken) starts with
  `__m__(n)`, where n is the number of syntax nodes the block runs straight through
  (a loop's test is paid again on every iteration); each comprehension pays per
  element of each of its `for`s;
- operators whose result can outgrow their operands (`+ - * ** << / %`) go through
  guards that refuse oversized results before they are built, and keep values inside
  the value model (no float from `/`, no `%`-formatting);
- method calls, slices and f-strings pass their result through `__sized__`, which
  charges the allocation budget for its size and turns dict views into lists (so no
  set can ever be made from them); `join` and `replace` are checked before they run,
  `encode` and `decode` take UTF-8 or ASCII only (UTF-16's byte order is the host's);
- work that grows with a value's size without building anything pays for the scan:
  comparison operands (`==`, `<`, `in` on long strings and containers), the receiver
  of a method that compares elements (`index`, `count`, `remove`, `sort`) and every new
  tuple go through `__scan__`, one unit per 16 elements, which also refuses containers
  nested deeper than 32 (CPython compares and hashes nesting recursively; a deep enough
  tuple crashes it when hashed); the receiver of other methods that walk or shift a
  list or a string (`insert`, `pop`, `find`, `split` ...) and the list of `del x[k]` go
  through `__shift__`, one unit per 16 elements (nothing for a dict: O(1));
- decorators, type hints and imports are removed: the interface was read by the checker.

The count depends only on the code and its inputs, never on the machine or the clock.
"""

from __future__ import annotations

import ast
import copy
import warnings
from types import CodeType

from baychain.runtime.language import Program

CHARGE = "__m__"
SIZED = "__sized__"
FMT = "__fmt__"
OP_HELPERS = {ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__", ast.Pow: "__pow__", ast.LShift: "__lshift__",
              ast.Div: "__div__", ast.Mod: "__mod__"}
CHECKED_METHODS = {"join": "__join__", "replace": "__replace__", "encode": "__encode__", "decode": "__decode__",
                   "update": "__update__"}
SCAN = "__scan__"
SHIFT = "__shift__"
CONSTANT_TIME_METHODS = frozenset({"get", "set", "append", "setdefault", "keys", "values", "items"})
COMPARING_METHODS = frozenset({"index", "count", "remove", "sort"})  # compare elements: nesting matters


def instrument(program: Program, filename: str) -> CodeType:
    """The contract's module code, metered and guarded, ready to execute."""
    tree = _Metered().visit(copy.deepcopy(program.tree))
    ast.fix_missing_locations(tree)
    with warnings.catch_warnings():  # e.g. SyntaxWarning for `1[0]`: a node's filters must not matter
        warnings.simplefilter("ignore")
        return compile(tree, filename, "exec", dont_inherit=True, optimize=0)


def _count(node: ast.AST | None) -> int:
    return 0 if node is None else sum(1 for _ in ast.walk(node))


def _own_cost(stmt: ast.stmt) -> int:
    """What a statement costs by itself (nested blocks pay for themselves)."""
    if isinstance(stmt, (ast.If, ast.While)):
        return 1 + _count(stmt.test)
    if isinstance(stmt, ast.For):
        return 1 + _count(stmt.iter) + _count(stmt.target)
    return _count(stmt)


def _call(helper: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=helper, ctx=ast.Load()), args=list(args), keywords=[])


def _charge(units: int) -> ast.stmt:
    return ast.Expr(value=_call(CHARGE, ast.Constant(value=units)))


NUMBER_BUILTINS = frozenset({"len", "ord", "isinstance", "bool", "int"})
"""Builtins that return a number. Inside a function no name can rebind them (the language
reserves them); a module-level function of the same name shadows them, and then the name
is that function (see `_Metered.numbers`)."""


def _load(target: ast.expr) -> ast.expr:
    """The same target, read instead of written."""
    node = copy.deepcopy(target)
    node.ctx = ast.Load()  # type: ignore[attr-defined]
    return node


class _Metered(ast.NodeTransformer):
    numbers: frozenset[str] = NUMBER_BUILTINS  # the names that call a number builtin in this module

    def _scanned(self, node: ast.expr, helper: str = SCAN) -> ast.expr:
        """`node`, paying for a scan of its value. Constants are known to be small, and the
        result of a builtin that returns a number costs nothing to scan (the guard would
        only return it): neither goes through the guard."""
        if isinstance(node, ast.Constant):
            return node
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.numbers:
            return node
        return ast.copy_location(_call(helper, node), node)

    def visit_Module(self, node: ast.Module) -> ast.Module:
        self.numbers = NUMBER_BUILTINS - {stmt.name for stmt in node.body if isinstance(stmt, ast.FunctionDef)}
        body: list[ast.stmt] = []
        for stmt in node.body:
            if isinstance(stmt, ast.ImportFrom):
                continue
            body.append(self.visit(stmt))
        node.body = body
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.decorator_list = []
        node.returns = None
        for arg in node.args.args:
            arg.annotation = None
        node.body = self._block(node.body, extra=1 + len(node.args.args))
        return node

    def _block(self, stmts: list[ast.stmt], extra: int = 0) -> list[ast.stmt]:
        cost = extra + sum(_own_cost(s) for s in stmts)
        out: list[ast.stmt] = [_charge(cost)]
        for stmt in stmts:
            out.append(self.visit(stmt))
        return out

    def visit_If(self, node: ast.If) -> ast.If:
        node.test = self.visit(node.test)
        node.body = self._block(node.body)
        if node.orelse:
            node.orelse = self._block(node.orelse)
        return node

    def visit_While(self, node: ast.While) -> ast.While:
        node.test = self.visit(node.test)
        node.body = self._block(node.body, extra=_count(node.test))
        if node.orelse:
            node.orelse = self._block(node.orelse)
        return node

    def visit_For(self, node: ast.For) -> ast.For:
        node.iter = self.visit(node.iter)
        node.body = self._block(node.body, extra=1 + _count(node.target))
        if node.orelse:
            node.orelse = self._block(node.orelse)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        helper = OP_HELPERS.get(type(node.op))
        if helper is None:
            return node
        return ast.copy_location(_call(helper, node.left, node.right), node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        self.generic_visit(node)
        helper = OP_HELPERS.get(type(node.op))
        if helper is None:
            return node
        # x op= y  ->  x = guard(x, y); the checker allowed only side-effect-free targets
        value = _call(helper, _load(node.target), node.value)
        return ast.copy_location(ast.Assign(targets=[node.target], value=value), node)

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        node.left = self._scanned(node.left)
        node.comparators = [self._scanned(c) for c in node.comparators]
        return node

    def visit_Delete(self, node: ast.Delete) -> ast.stmt:
        self.generic_visit(node)
        for target in node.targets:
            if isinstance(target, ast.Subscript):
                target.value = self._scanned(target.value, SHIFT)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        func = node.func
        if not isinstance(func, ast.Attribute):
            return node
        if func.attr in COMPARING_METHODS:
            func.value = self._scanned(func.value)
        elif func.attr not in CONSTANT_TIME_METHODS:
            func.value = self._scanned(func.value, SHIFT)
        checked = CHECKED_METHODS.get(func.attr)
        if checked is not None:
            return ast.copy_location(ast.Call(func=ast.Name(id=checked, ctx=ast.Load()),
                                              args=[func.value, *node.args], keywords=node.keywords), node)
        return ast.copy_location(_call(SIZED, node), node)

    def visit_Tuple(self, node: ast.Tuple) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load) and not all(isinstance(e, ast.Constant) for e in node.elts):
            return ast.copy_location(_call(SCAN, node), node)  # a new tuple: its nesting is checked
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.slice, ast.Slice) and isinstance(node.ctx, ast.Load):
            return ast.copy_location(_call(SIZED, node), node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.expr:
        self.generic_visit(node)
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                part.value = _call(FMT, part.value)
        return ast.copy_location(_call(SIZED, node), node)

    def _comprehension(self, node: ast.ListComp | ast.DictComp | ast.GeneratorExp) -> ast.expr:
        cost = 1 + (_count(node.key) + _count(node.value) if isinstance(node, ast.DictComp) else _count(node.elt))
        self.generic_visit(node)
        for gen in node.generators:  # every level pays per element, first, whatever its conditions say
            gen.ifs.insert(0, _call(CHARGE, ast.Constant(value=cost + sum(_count(c) for c in gen.ifs))))
        return node

    visit_ListComp = _comprehension
    visit_DictComp = _comprehension
    visit_GeneratorExp = _comprehension
