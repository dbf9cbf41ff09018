"""Static memory plan for the activation arena.

Tensor lifetimes are op-index intervals; views (RESHAPE & co.) share their input's buffer, and
element-wise ops whose input dies at that op write over it. Buffers are then placed greedily,
largest first, at the lowest offset that does not overlap any buffer alive at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass

ALIGN = 4


@dataclass
class Buffer:
    tensors: list[int]
    size: int
    first: int
    last: int
    offset: int = -1


@dataclass
class MemoryPlan:
    offsets: dict[int, int]     # tensor id -> byte offset in the arena
    arena_bytes: int
    buffers: list[Buffer]


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_memory(steps, sizes: dict[int, int], graph_inputs, graph_outputs, keep_inputs: bool = True) -> MemoryPlan:
    """steps: lowered ops in execution order; sizes: bytes of every activation tensor."""
    n = len(steps)
    first = {t: (0 if t in graph_inputs else None) for t in sizes}
    last = {t: (n if (t in graph_outputs or (keep_inputs and t in graph_inputs)) else -1) for t in sizes}
    for k, s in enumerate(steps):
        for t in s.outputs:
            if t in sizes and first[t] is None:
                first[t] = k
        for t in s.inputs + s.outputs:
            if t in sizes:
                last[t] = max(last[t], k)
    for t in sizes:
        if first[t] is None:
            first[t] = 0

    parent = {t: t for t in sizes}

    def find(t):
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    group_first, group_last, group_size = dict(first), dict(last), {t: _align(sizes[t]) for t in sizes}

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra == rb:
            return
        parent[rb] = ra
        group_first[ra] = min(group_first[ra], group_first[rb])
        group_last[ra] = max(group_last[ra], group_last[rb])
        group_size[ra] = max(group_size[ra], group_size[rb])

    pinned = set(graph_inputs) if keep_inputs else set()
    for k, s in enumerate(steps):
        out = s.outputs[0] if s.outputs else None
        if out is None or out not in sizes:
            continue
        if s.alias and s.inputs[0] in sizes:
            union(s.inputs[0], out)
            continue
        for t in s.in_place:
            if t not in sizes or sizes[out] > group_size[find(t)]:
                continue
            r = find(t)
            if group_last[r] == k and not (set(_members(parent, find, r)) & pinned):
                union(t, out)
                break

    groups: dict[int, Buffer] = {}
    for t in sizes:
        r = find(t)
        b = groups.setdefault(r, Buffer([], group_size[r], group_first[r], group_last[r]))
        b.tensors.append(t)

    placed: list[Buffer] = []
    for b in sorted(groups.values(), key=lambda b: (-b.size, b.first)):
        busy = sorted((o.offset, o.offset + o.size) for o in placed if not (o.last < b.first or b.last < o.first))
        offset = 0
        for lo, hi in busy:
            if offset + b.size <= lo:
                break
            offset = max(offset, _align(hi))
        b.offset = offset
        placed.append(b)
    offsets = {t: b.offset for b in placed for t in b.tensors}
    arena = max((b.offset + b.size for b in placed), default=0)
    return MemoryPlan(offsets, arena, placed)


def _members(parent, find, root):
    return [t for t in parent if find(t) == root]
