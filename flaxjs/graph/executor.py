"""Running a graph: the nodes an output needs, in order, and their values.

Constants, weights and fed tensors are values known before the run; every other
node is computed by its op's converter from its inputs. A run is a pure function
of the weights and the fed tensors, so it can be jitted, differentiated and
vmapped, as long as no op with value-dependent shapes is on the way.

Graphs with control flow (the TF1 frames ``Enter``/``Merge``/``Switch``/
``NextIteration``/``Exit`` that the TF.js converter leaves for ``tf.while_loop``
and ``tf.cond``, or the v2 ops ``If``/``While`` calling ``library.function``
bodies) run in :class:`_Interpreter`, which executes them as TF.js's
``GraphExecutor.executeAsync`` does: a node runs once all its inputs (control
inputs too) have values in its frame, a ``Switch`` leaves its untaken output
dead, a ``Merge`` passes its first live input, and loop iterations are frames of
their own (with TF.js's limits: a node in a loop body reading only loop constants
runs in the first iteration only). TensorList and TensorArray ops run there too, in
TF.js's order, since they change lists in place.

An eager run (dynamic ops or control flow on the way) first runs the nodes that
need no dynamic value as one jitted function (:data:`STAGE_MIN_NODES` or more of
them; if they cannot be traced, e.g. a shape read from a fed value, op by op), then
the rest op by op (plain ``jax.numpy``/NumPy). Loops whose condition is static (a
counter against a shape) also run under ``jax.jit``, unrolled; anything else that
needs a traced value there raises ``DynamicOpError`` naming the node.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import jax
import jax.extend.core as jax_core
import numpy as np

from ..errors import FlaxjsError, ModelFormatError, UnsupportedOpError
from .graphdef import FuncRef, NodeDef, TensorRef, parse_nodes
from .ops import registry
from .ops.common import GraphOpError, concrete, is_static
from .ops.control import Handle, truthy
from .spec import GraphSpec

#: TF1 control flow: the frames of ``tf.while_loop`` and the branches of ``tf.cond``.
V1_CONTROL_FLOW = frozenset({"Enter", "Exit", "Switch", "Merge", "NextIteration", "LoopCond"})
#: control flow v2: ops calling ``library.function`` bodies.
V2_CONTROL_FLOW = frozenset({"If", "StatelessIf", "While", "StatelessWhile"})
CONTROL_FLOW = V1_CONTROL_FLOW | V2_CONTROL_FLOW

#: ops TF.js runs asynchronously (its ``control`` and ``dynamic`` executors): their
#: consumers are scheduled after the synchronous ops of the same round, as TF.js's
#: promises resolve; those that ``await`` a value resolve after the others.
_AWAITING = frozenset({"Switch", "If", "StatelessIf", "While", "StatelessWhile", "Where",
                       "ListDiff", "NonMaxSuppressionV2", "NonMaxSuppressionV3",
                       "NonMaxSuppressionV4", "NonMaxSuppressionV5"})
_ASYNC_PREFIXES = ("TensorList", "TensorArray", "EmptyTensorList")

#: ops TF.js runs (so a graph needing them is not TF.js-incompatible), among those
#: flaxjs refuses for want of strings, hash tables and ragged tensors in JAX.
_TFJS_RUNS = frozenset({
    "StaticRegexReplace", "StringNGrams", "StringSplit", "StringToHashBucketFast",
    "HashTable", "HashTableV2", "LookupTableImport", "LookupTableImportV2", "LookupTableFind",
    "LookupTableFindV2", "LookupTableSize", "LookupTableSizeV2", "InitializeTable",
    "InitializeTableV2", "RaggedGather", "RaggedRange", "RaggedTensorToTensor"})


def refused_kind(op: str) -> str | None:
    """``"string"``, ``"hash-table"``, ``"ragged"`` or ``"TF-DF"`` for ops on values JAX
    has no arrays for (flaxjs refuses them, naming them), else ``None``."""
    if op.startswith("SimpleML"):
        return "TF-DF"
    if op.startswith("Ragged"):
        return "ragged"
    if "HashTable" in op or "LookupTable" in op or "InitializeTable" in op:
        return "hash-table"
    if ("String" in op or "Regex" in op or op.startswith("Unicode")
            or op in ("Substr", "AsString", "DecodeBase64", "EncodeBase64", "ReduceJoin")):
        return "string"
    return None


class ExecutionOrder(list):
    """The nodes of a run, each after its inputs (loop back-edges aside), and what a run
    with control flow needs besides: the graph's ``library.function`` bodies, and each
    node's position in the file (TF.js visits a node's consumers in file order)."""

    functions: Mapping[str, Any]
    rank: Mapping[str, int]
    consts: frozenset[str]

    def __init__(self, nodes: Sequence[NodeDef], functions: Mapping[str, Any] | None = None,
                 rank: Mapping[str, int] | None = None, consts: Collection[str] = ()):
        super().__init__(nodes)
        self.functions = functions or {}
        self.rank = rank if rank is not None else {n.name: i for i, n in enumerate(nodes)}
        self.consts = frozenset(consts)
        self.parsed: dict[str, _Function] = {}
        self.stages: dict[tuple[TensorRef, ...], _Stage | None] = {}


def _refs(node: NodeDef, control: bool) -> list[TensorRef]:
    if not control:
        return list(node.inputs)
    return [*node.inputs, *(TensorRef.parse(c) for c in node.control)]


def _depth_first(nodes: Mapping[str, NodeDef], roots: Sequence[str], known: Collection[str],
                 control: bool) -> list[NodeDef]:
    """Post-order of the nodes ``roots`` need; a ``Merge`` reads its ``NextIteration``
    inputs (a loop's back edge) after the rest, so that a loop is not a cycle."""
    order: list[NodeDef] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    pending = list(roots)
    while pending:
        root = pending.pop(0)
        if root in known or state.get(root) == 2:
            continue
        stack = [(root, False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                state[name] = 2
                order.append(nodes[name])
                continue
            if state.get(name) == 2:
                continue
            state[name] = 1
            stack.append((name, True))
            node = nodes[name]
            for ref in reversed(_refs(node, control)):
                if ref.node in known or state.get(ref.node) == 2:
                    continue
                if ref.node not in nodes:
                    raise ModelFormatError(f"node {name!r} reads {ref.node!r}, which is not a "
                                           "node of the graph")
                if node.op == "Merge" and nodes[ref.node].op == "NextIteration":
                    pending.append(ref.node)
                    continue
                if state.get(ref.node) == 1:
                    raise GraphOpError(node, f"the graph has a cycle through {ref.node!r} that "
                                       "is no loop (a loop's cycle passes a Merge reading a "
                                       "NextIteration); the graph is malformed")
                stack.append((ref.node, False))
    return order


def execution_order(spec: GraphSpec, outputs: Sequence[TensorRef],
                    known: Collection[str]) -> ExecutionOrder:
    """The nodes ``outputs`` depend on, each after its inputs, stopping at ``known`` ones.

    With control flow on the way, control inputs count too (as in TF.js, where they
    decide which branch's nodes run), and a loop's ``NextIteration`` comes after the
    ``Merge`` it feeds."""
    roots = [ref.node for ref in outputs]
    consts = [node.name for node in spec.nodes.values() if node.op == "Const"]
    order = _depth_first(spec.nodes, roots, known, control=False)
    if not any(_interpreted(node) for node in order):
        return ExecutionOrder(order, spec.functions, consts=consts)
    order = _depth_first(spec.nodes, roots, known, control=True)
    return ExecutionOrder(order, spec.functions, {name: i for i, name in enumerate(spec.nodes)},
                          consts)


def _interpreted(node: NodeDef) -> bool:
    """Control flow, and lists, which TF.js changes in place: the order of their readers
    and writers is TF.js's scheduling order, which the interpreter follows."""
    return node.op in CONTROL_FLOW or node.op.startswith(_ASYNC_PREFIXES)


def function_constants(spec: GraphSpec) -> list[str]:
    """The ``Const`` nodes of the ``library.function`` bodies: the TF.js converter stores
    their values in the weights manifest under these names (prefixed with the function's
    name), and a run looks them up among the model's weights, as TF.js does."""
    return [str(node.get("name")) for fn in spec.functions.values()
            for node in (fn.get("nodeDef") or []) if node.get("op") == "Const"]


def needed_names(spec: GraphSpec, order: Sequence[NodeDef]) -> set[str]:
    """The nodes a run of ``order`` reads: its nodes, their inputs, and the constants of
    the ``library.function`` bodies (``If``/``While`` read those among the weights)."""
    return ({n.name for n in order} | {r.node for n in order for r in n.inputs}
            | set(function_constants(spec)))


def _function_names(node: NodeDef) -> list[str]:
    return [v.name for v in node.attrs.values() if isinstance(v, FuncRef)]


def check_supported(order: Sequence[NodeDef], location: str = "") -> None:
    """Refuse, before anything runs, every op without a converter (all of them at once),
    those of the ``library.function`` bodies that ``If``/``While`` call included."""
    missing: dict[str, list[str]] = {}
    functions = getattr(order, "functions", {})
    seen: set[str] = set()
    todo = list(order)
    while todo:
        node = todo.pop(0)
        if registry.lookup(node.op) is None:
            missing.setdefault(node.op, []).append(node.name)
        if node.op in V2_CONTROL_FLOW:
            for name in _function_names(node):
                if name in seen:
                    continue
                seen.add(name)
                if name not in functions:
                    raise ModelFormatError(f"{location}: node {node.name!r} ({node.op}) calls "
                                           f"function {name!r}, which the graph's library "
                                           "does not define")
                todo.extend(_parse_function(functions, name).nodes.values())
    if not missing:
        return
    refused = {op: refused_kind(op) for op in missing if refused_kind(op)}
    reason = ""
    if refused:
        listed = ", ".join(f"{op} ({kind})" for op, kind in sorted(refused.items()))
        no_tfjs = sorted(op for op in refused if op not in _TFJS_RUNS)
        reason = (f"{listed} compute on strings, hash tables, ragged tensors or decision "
                  "forests, which JAX has no arrays for"
                  + (f"; TF.js has no kernel for {', '.join(no_tfjs)} either" if no_tfjs
                     else "")
                  + ". Do that preprocessing in Python (e.g. turn text into integer token "
                    "ids) and re-export the model from the first numeric tensor on (for "
                    "Keras: a model starting at the Embedding layer, without "
                    "TextVectorization/StringLookup), then load that.")
        others = sorted(set(missing) - set(refused))
        if others:
            reason += (f" The other ops listed ({', '.join(others)}) have no converter yet; "
                       "please report the model.")
    raise UnsupportedOpError(missing, reason=reason, location=location)


def dynamic_ops(order: Sequence[NodeDef]) -> list[NodeDef]:
    """The nodes whose output shapes depend on values, control flow included (they
    cannot run under ``jax.jit``, so the model runs them eagerly)."""
    out = []
    for node in order:
        registration = registry.lookup(node.op)
        if registration is not None and registration.dynamic:
            out.append(node)
    return out


def run(order: Sequence[NodeDef], known: Mapping[str, Any],
        outputs: Sequence[TensorRef]) -> list[Any]:
    """The values of ``outputs``, computing ``order`` from the ``known`` node values.

    With dynamic ops or control flow on the way (an eager run), the nodes before them
    (those needing no dynamic value) run first as one jitted function; the rest runs op
    by op."""
    plan = order if isinstance(order, ExecutionOrder) else ExecutionOrder(order)
    values: dict[str, tuple[Any, ...]] = {name: (value,) for name, value in known.items()}
    rest: Sequence[NodeDef] = plan
    if any(_eager(node) for node in plan):
        rest = _run_stage(plan, known, values, tuple(outputs))
    if any(_interpreted(node) for node in rest):
        results = _Interpreter(rest, plan.rank, values, plan, known).run(outputs)
    else:
        results = _run_straight(rest, values, outputs)
    return [_handle_value(v) for v in results]


def _run_straight(order: Sequence[NodeDef], values: dict[str, tuple[Any, ...]],
                  outputs: Sequence[TensorRef]) -> list[Any]:
    for node in order:
        inputs = [_output(values, ref, node) for ref in node.inputs]
        values[node.name] = _call(node, inputs)
    return [_output(values, ref, None) for ref in outputs]


def _eager(node: NodeDef) -> bool:
    """A node that runs outside jit: value-dependent, control flow, or a list op."""
    registration = registry.lookup(node.op)
    return _interpreted(node) or (registration is not None and registration.dynamic)


#: a jitted stage needs at least this many nodes (else its compilation costs more than
#: running them op by op).
STAGE_MIN_NODES = 16


@dataclasses.dataclass
class _Stage:
    """The static part of an eager run: the nodes needing no dynamic value, jitted."""

    nodes: list[NodeDef]
    inputs: list[str]  # known values they read
    needed: list[str]  # those of their nodes the rest (or the outputs) reads
    rest: ExecutionOrder
    compiled: dict[Any, tuple[Any, dict[Any, Any], Mapping[str, Any]]] = dataclasses.field(
        default_factory=dict)
    failed: bool = False


def _stage(plan: ExecutionOrder, outputs: tuple[TensorRef, ...]) -> _Stage | None:
    if outputs in plan.stages:
        return plan.stages[outputs]
    control = any(_interpreted(node) for node in plan)
    names = {node.name for node in plan}
    nodes: list[NodeDef] = []
    inside: set[str] = set()
    for node in plan:
        if not _eager(node) and all(r.node in inside or r.node not in names
                                    for r in _refs(node, control)):
            nodes.append(node)
            inside.add(node.name)
    stage = None
    if len(nodes) >= STAGE_MIN_NODES:
        rest = ExecutionOrder([n for n in plan if n.name not in inside], plan.functions,
                              plan.rank, plan.consts)
        rest.parsed = plan.parsed
        needed = {r.node for n in rest for r in _refs(n, control) if r.node in inside}
        needed |= {r.node for r in outputs if r.node in inside}
        inputs = {r.node for n in nodes for r in _refs(n, control) if r.node not in names}
        stage = _Stage(nodes, sorted(inputs), sorted(needed), rest)
    plan.stages[outputs] = stage
    return stage


def _run_stage(plan: ExecutionOrder, known: Mapping[str, Any],
               values: dict[str, tuple[Any, ...]], outputs: tuple[TensorRef, ...]
               ) -> Sequence[NodeDef]:
    """Computes the stage into ``values``; the nodes left to run."""
    stage = _stage(plan, outputs)
    if stage is None or stage.failed or any(_is_abstract(v) for v in known.values()):
        return plan
    static = {n: known[n] for n in stage.inputs if n in plan.consts and is_static(known[n])}
    dynamic = {n: known[n] for n in stage.inputs if n not in static}
    key = tuple(sorted((n, id(v)) for n, v in static.items()))
    if key not in stage.compiled:
        side: dict[Any, Any] = {}

        def traced(feeds: dict[str, Any]) -> dict[str, Any]:
            vals = {n: (v,) for n, v in {**static, **feeds}.items()}
            _run_straight(stage.nodes, vals, [])
            fixed, counts, out = {}, {}, {}
            for name in stage.needed:
                counts[name] = len(vals[name])
                for i, v in enumerate(vals[name]):
                    if is_static(v):
                        fixed[(name, i)] = v
                    else:
                        out[f"{i}:{name}"] = v
            side[_signature(feeds)] = (fixed, counts)
            return out

        # plain jax.jit: flaxjs's compiler options are for top-level jits only, and a
        # stage also runs inside eager grad or vmap
        stage.compiled[key] = (jax.jit(traced), side, static)  # keeps ``static`` alive
    jitted, side, _ = stage.compiled[key]
    try:
        out = jitted(dynamic)
        fixed, counts = side[_signature(dynamic)]
    except Exception:  # e.g. a shape read from a fed value: run op by op
        stage.failed = True
        return plan
    for name in stage.needed:
        values[name] = tuple(fixed[(name, i)] if (name, i) in fixed else out[f"{i}:{name}"]
                             for i in range(counts[name]))
    return stage.rest


def _signature(feeds: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple((n, tuple(np.shape(v)), str(getattr(v, "dtype", type(v))),
                  bool(getattr(v, "weak_type", False))) for n, v in sorted(feeds.items()))


def _is_abstract(x: Any) -> bool:
    """A traced value without a concrete value (under ``jax.jit``, not eager ``grad``)."""
    if not isinstance(x, jax.core.Tracer):
        return False
    try:
        jax_core.concrete_or_error(None, x)
    except jax.errors.ConcretizationTypeError:
        return True
    return False


def _call(node: NodeDef, inputs: Sequence[Any]) -> tuple[Any, ...]:
    registration = registry.lookup(node.op)
    assert registration is not None, node.op  # checked when the model was loaded
    if registration.dynamic and not _interpreted(node):  # those check what they read
        for x in inputs:
            if _is_abstract(x):
                concrete(node, x, "inputs")  # raises DynamicOpError naming the node
    return registry.call(node, inputs)


def _output(values: Mapping[str, tuple[Any, ...]], ref: TensorRef, reader: NodeDef | None) -> Any:
    outs = values[ref.node]
    if ref.index >= len(outs):
        message = (f"output {ref.index} of {ref.node!r} is read, but flaxjs computes "
                   f"{len(outs)} output(s) for it; please report the model")
        if reader is not None:
            raise GraphOpError(reader, message)
        raise ModelFormatError(message)
    return outs[ref.index]


def _handle_value(value: Any) -> Any:
    """Values, not TensorList/TensorArray handles, leave a run (TF.js disposes them)."""
    if isinstance(value, Handle):
        raise FlaxjsError(f"an output is a {type(value).__name__} (a handle, not a tensor; "
                          "TF.js disposes it at the end of the run): ask for the tensor read "
                          "from it (e.g. a TensorListStack) instead")
    return value


# ------------------------------------------------------------------ control flow
Context = tuple[tuple[str, int, int], ...]  # frames: (frame name, iteration, unique id)
_ROOT: Context = (("", 0, 0),)
_IDS: dict[Context, list[str]] = {}


def _context_ids(ctx: Context) -> list[str]:
    """TF.js's ``currentContextIds``: the frame's own id, then its parents', root last."""
    ids = _IDS.get(ctx)
    if ids is None:
        parts = ["" if (uid == 0 and it == 0) else f"{name}-{it}" for name, it, uid in ctx]
        ids = ["/".join(parts[:len(parts) - i]) for i in range(len(parts) - 1)] + [""]
        if len(_IDS) > 100_000:
            _IDS.clear()
        _IDS[ctx] = ids
    return ids


class _Interpreter:
    """One run of a graph with control flow, as TF.js's ``executeWithControlFlow``."""

    def __init__(self, order: Sequence[NodeDef], rank: Mapping[str, int],
                 known: Mapping[str, tuple[Any, ...]], functions: ExecutionOrder,
                 weights: Mapping[str, Any]):
        self.nodes = {node.name: node for node in order}
        for node in order:
            if node.op == "Placeholder":  # not fed: its converter says so
                _call(node, [])
        self.functions = functions
        self.weights = weights
        self.values: dict[tuple[str, str], tuple[Any, ...] | None] = {
            (name, ""): outs for name, outs in known.items()}
        self.children: dict[str, list[NodeDef]] = {}
        for node in sorted(order, key=lambda n: rank.get(n.name, len(rank))):
            for ref in _refs(node, True):
                self.children.setdefault(ref.node, []).append(node)
        self.starts = [name for name in known if name in self.children]
        self.starts += [node.name for node in order if not node.inputs and not node.control
                        and not node.op.startswith("Placeholder")]
        self.added: set[tuple[str, str]] = set()
        self.last_id = 0

    def get(self, ref: TensorRef, ctx: Context) -> Any:
        for cid in _context_ids(ctx):
            outs = self.values.get((ref.node, cid))
            if outs is not None:
                return outs[ref.index] if ref.index < len(outs) else None
        return None

    def run(self, outputs: Sequence[TensorRef]) -> list[Any]:
        stack: list[tuple[str, Context]] = [(name, _ROOT) for name in self.starts]
        ctx = _ROOT
        while stack:
            fast: list[tuple[str, str, Any, Context]] = []
            slow: list[tuple[str, str, Any, Context]] = []
            while stack:
                name, ctx = stack.pop()
                node = self.nodes.get(name)
                if node is None or (name, "") in self.values:
                    self.push_children(name, ctx, stack)
                    continue
                parent_id = None
                if node.op == "Enter" and node.attr("is_constant", False):
                    parent_id = _context_ids(ctx)[0]  # a loop constant lives outside the loop
                outs, ctx = self.execute(node, ctx)
                cid = parent_id if parent_id is not None else _context_ids(ctx)[0]
                if node.op in _AWAITING:
                    slow.append((name, cid, outs, ctx))
                elif node.op in CONTROL_FLOW or node.op.startswith(_ASYNC_PREFIXES):
                    fast.append((name, cid, outs, ctx))
                else:
                    self.values[(name, cid)] = outs
                    self.push_children(name, ctx, stack)
            for name, cid, outs, ctx in fast + slow:
                self.values[(name, cid)] = outs
                self.push_children(name, ctx, stack)
        results = []
        for ref in outputs:
            value = self.get(ref, ctx)
            if value is None:
                message = (f"output {str(ref)!r} has no value: it lies on a branch the data "
                           "did not take (a dead Switch output) or inside a loop's frame; "
                           "TF.js's executeAsync cannot compute it either")
                node = self.nodes.get(ref.node)
                raise GraphOpError(node, message) if node else FlaxjsError(message)
            results.append(value)
        return results

    def push_children(self, name: str, ctx: Context, stack: list[tuple[str, Context]]) -> None:
        cid = _context_ids(ctx)[0]
        for child in self.children.get(name, ()):
            key = (child.name, cid)
            if key in self.added:
                continue
            refs = _refs(child, True)
            if child.op == "Merge":  # a Merge runs as soon as one input is live
                ready = any(self.get(r, ctx) is not None for r in refs)
            else:
                ready = all(self.get(r, ctx) is not None for r in refs)
            if ready:
                self.added.add(key)
                stack.append((child.name, ctx))

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def execute(self, node: NodeDef, ctx: Context) -> tuple[tuple[Any, ...] | None, Context]:
        op = node.op
        if op == "Merge":
            live = [v for v in (self.get(r, ctx) for r in _refs(node, True)) if v is not None]
            return ((live[0],) if live else None), ctx
        inputs = [self.get(ref, ctx) for ref in node.inputs]
        if op == "Enter":
            frame = str(node.attr("frame_name", "")).lower()
            return (inputs[0],), (*ctx, (frame, 0, self.next_id()))
        if op == "Exit":
            if len(ctx) <= 1:
                raise GraphOpError(node, "exits a loop frame, but it runs outside any loop "
                                         "(TF.js: 'Cannot exit frame, the context is empty')")
            return (inputs[0],), ctx[:-1]
        if op == "NextIteration":
            frame, iteration, _ = ctx[-1]
            return (inputs[0],), (*ctx[:-1], (frame, iteration + 1, self.next_id()))
        if op in ("If", "StatelessIf"):
            branch = "then_branch" if truthy(node, inputs[0], "condition") else "else_branch"
            return tuple(self.call_function(node, branch, inputs[1:])), ctx
        if op in ("While", "StatelessWhile"):
            return tuple(self.run_while(node, inputs)), ctx
        outs = _call(node, inputs)
        if op == "NoOp":
            outs = (np.ones((), np.float32),)  # TF.js gives NoOp a value: scalar(1)
        return outs, ctx

    def run_while(self, node: NodeDef, args: list[Any]) -> list[Any]:
        """TF.js's ``While``: the body until the condition function gives false."""
        result = list(args)
        while truthy(node, self.call_function(node, "cond", result)[0], "loop condition"):
            result = self.call_function(node, "body", result)
        return result

    def call_function(self, node: NodeDef, attr: str, args: Sequence[Any]) -> list[Any]:
        ref = node.attr(attr)
        if not isinstance(ref, FuncRef):
            raise GraphOpError(node, f"attribute {attr!r} should name a function, got {ref!r}")
        fn = _parse_function(self.functions.functions, ref.name, self.functions.parsed, node)
        if len(args) != len(fn.args):
            raise GraphOpError(node, f"function {ref.name!r} takes {len(fn.args)} argument(s), "
                                     f"given {len(args)}")
        known = {}
        for name in fn.consts:
            value = self.weights.get(name, fn.inline.get(name))
            if value is None:
                raise GraphOpError(fn.nodes[name], f"a constant of function {ref.name!r} has "
                                   "no value: the TF.js converter stores function constants "
                                   "as weights named like the node; re-convert the model")
            known[name] = value
        known.update(zip(fn.args, args, strict=True))
        return _Interpreter(fn.order, fn.rank, {n: (v,) for n, v in known.items()},
                            self.functions, self.weights).run(fn.outputs)


@dataclasses.dataclass
class _Function:
    """A ``library.function`` body, as TF.js maps it (``OperationMapper.mapFunction``)."""

    name: str
    nodes: dict[str, NodeDef]
    args: list[str]
    outputs: list[TensorRef]
    consts: list[str]  # those the outputs need
    inline: dict[str, Any]  # values written into the function itself
    order: list[NodeDef]
    rank: dict[str, int]


def _parse_function(functions: Mapping[str, Any], name: str,
                    cache: dict[str, _Function] | None = None,
                    caller: NodeDef | None = None) -> _Function:
    if cache is not None and name in cache:
        return cache[name]
    raw = functions.get(name)
    if not isinstance(raw, Mapping):
        message = f"function {name!r} is not in the graph's library"
        raise GraphOpError(caller, message) if caller else ModelFormatError(message)
    where = f"function {name!r}"
    signature = raw.get("signature") or {}
    args = [str(a.get("name")) for a in signature.get("inputArg") or []]
    nodes = parse_nodes(raw.get("nodeDef") or [], where)
    for arg in args:
        nodes.setdefault(arg, NodeDef(arg, "Placeholder", (), (), {}))
    ret = raw.get("ret") or {}
    refs = []
    for out in signature.get("outputArg") or []:
        target = ret.get(out.get("name"))
        if not isinstance(target, str):
            raise ModelFormatError(f"{where}: output {out.get('name')!r} has no 'ret' entry")
        refs.append(TensorRef.parse(target))
    # TF.js keeps one output index per node (``defaultOutput``): the last one written.
    last = {r.node: r.index for r in refs}
    outputs = [TensorRef(r.node, last[r.node]) for r in refs]
    for node in nodes.values():
        for ref in _refs(node, True):
            if ref.node not in nodes:
                raise ModelFormatError(f"{where}: node {node.name!r} reads {ref.node!r}, which "
                                       "is not a node of the function")
    for ref in outputs:
        if ref.node not in nodes:
            raise ModelFormatError(f"{where}: output {ref.node!r} is not a node of the function")
    needed: set[str] = set()
    todo = [ref.node for ref in outputs]
    while todo:
        current = todo.pop()
        if current in needed:
            continue
        needed.add(current)
        node = nodes[current]
        if node.op in ("Placeholder", "Const"):
            continue
        todo.extend(ref.node for ref in _refs(node, True))
    order = [n for n in nodes.values() if n.name in needed and n.op != "Placeholder"
             and n.op != "Const"]
    consts = [n.name for n in nodes.values() if n.name in needed and n.op == "Const"]
    inline = {}
    for const in consts:
        value = nodes[const].attr("value")
        if isinstance(value, tuple) and value[2] is not None:
            inline[const] = value[2]
    fn = _Function(name, nodes, args, outputs, consts, inline, order,
                   {n: i for i, n in enumerate(nodes)})
    if cache is not None:
        cache[name] = fn
    return fn
