"""Static memory plan for the activation arena.

Tensor lifetimes are op-index intervals; views (RESHAPE & co.) share their input's buffer, and
element-wise ops whose input dies at that op write over it. Buffers are then placed greedily,
largest first, at the lowest offset that does not overlap any buffer alive at the same time.

Streaming ops (convolution, depthwise, pooling with one batch) read their input and write their
output in raster order, so an output may overlap the input it consumes when the output starts
at least `stream_margin` bytes before the input: every output row is then written over input
rows no later output needs (the in-place scheme of TinyEngine/MCUNetV2, computed per layer).

A step's `workspace` (a fused block's slab of rows) and its kernel scratch (border windows,
sign-extended windows, the depthwise row band) are planned as tensors live during that step
only, so a large scratch of one layer does not sit beside the arena's peak elsewhere.

The execution order is the model's unless another order of the same graph, which at every
point runs the ready op that adds the fewest live bytes, gives a smaller arena
(ResNet's downsampling blocks: the shortcut convolution, the last reader of the block input,
then runs before the second convolution and writes over the input it consumes).
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
    overlaps: dict[tuple[int, int], int] = None  # (input tensor, output tensor) -> margin allowed
    workspace: dict[int, int] = None  # step position -> byte offset of its workspace
    scratch: dict[int, int] = None    # step position -> byte offset of its kernel scratch


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def stream_margin(g: dict) -> int:
    """Least (input offset - output offset) at which a streaming op may write over its input.

    The kernels (conv, depthwise, pooling) go through the output pixel by pixel in raster order;
    a convolution computes two neighbouring pixels together (reads both windows, then writes
    both; a pointwise one pairs across rows). So when output pixel (oy, ox) is written, up to
    the next pixel in raster order may be written, and the input from the first byte of that pixel's window on (rows from
    oy*stride_h - pad_top, columns from ox*stride_w - pad_left, clipped at 0) may still be read:
    everything written must lie before it. Without the column geometry, row granularity."""
    out_row = g["out_w"] * g["out_c"]
    in_row = g["in_w"] * g["in_c"]
    if "stride_w" not in g:
        return max((oy + 1) * out_row - max(0, oy * g["stride_h"] - g["pad_top"]) * in_row for oy in range(g["out_h"]))
    ow, oc, ic = g["out_w"], g["out_c"], g["in_c"]
    margin = 0
    for oy in range(g["out_h"]):
        first_row = max(0, oy * g["stride_h"] - g["pad_top"]) * in_row
        for ox in range(ow):
            written = min(oy * ow + ox + 2, g["out_h"] * ow) * oc
            needed = first_row + min(max(0, ox * g["stride_w"] - g["pad_left"]), g["in_w"]) * ic
            margin = max(margin, written - needed)
    return margin


def plan_memory(steps, sizes: dict[int, int], graph_inputs, graph_outputs, keep_inputs: bool = True) -> MemoryPlan:
    """steps: lowered ops in execution order; sizes: bytes of every activation tensor."""
    n = len(steps)
    workspaces = {_workspace_key(k): k for k, s in enumerate(steps) if getattr(s, "workspace", 0)}
    scratches = {_scratch_key(k, n): k for k, s in enumerate(steps) if getattr(s, "scratch_bytes", 0)}
    sizes = {**sizes, **{w: steps[k].workspace for w, k in workspaces.items()},
             **{w: steps[k].scratch_bytes for w, k in scratches.items()}}
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
    for w, k in (workspaces | scratches).items():
        first[w] = last[w] = k

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

    # (input group, output group) -> margin, for streaming ops whose input dies there
    margins: dict[tuple[int, int], int] = {}
    for k, s in enumerate(steps):
        stream = getattr(s, "stream", None)
        if not stream or not s.inputs or not s.outputs or s.inputs[0] not in sizes or s.outputs[0] not in sizes:
            continue
        gi, go = find(s.inputs[0]), find(s.outputs[0])
        if gi == go or group_last[gi] != k or group_first[go] != k:
            continue
        if set(_members(parent, find, gi)) & pinned:
            continue
        margins[(gi, go)] = stream_margin(stream)

    roots = list(groups)
    orders = [sorted(roots, key=lambda r: (-groups[r].size, groups[r].first)),
              sorted(roots, key=lambda r: (groups[r].first, -groups[r].size))]
    best = None
    for order in orders:
        for mode in ("single", "pairs", "chains"):
            offsets_try = _place(order, groups, margins, mode)
            arena_try = max((offsets_try[r] + groups[r].size for r in roots), default=0)
            if best is None or arena_try < best[0]:
                best = (arena_try, offsets_try)
    placed = []
    for r in roots:
        groups[r].offset = best[1][r]
        placed.append(groups[r])
    offsets = {t: b.offset for b in placed for t in b.tensors}
    arena = max((b.offset + b.size for b in placed), default=0)
    overlaps = {(s.inputs[0], s.outputs[0]): margins[(find(s.inputs[0]), find(s.outputs[0]))]
                for s in steps if s.inputs and s.outputs and s.inputs[0] in sizes and s.outputs[0] in sizes
                and (find(s.inputs[0]), find(s.outputs[0])) in margins}
    return MemoryPlan({t: o for t, o in offsets.items() if t not in workspaces and t not in scratches}, arena,
                      placed, overlaps, {k: offsets[w] for w, k in workspaces.items()},
                      {k: offsets[w] for w, k in scratches.items()})


def _workspace_key(k: int) -> int:
    return -1 - k   # tensor ids are >= 0


def _scratch_key(k: int, n: int) -> int:
    return -1 - n - k   # below every workspace key


def memory_order(steps, sizes: dict[int, int], keep: set[int]) -> list:
    """The steps in an order that at every point runs, of the steps whose inputs are made, the
    one that adds the fewest live bytes (outputs made minus inputs read for the last time;
    tensors in `keep` never die), the model's order breaking ties."""
    producer = {t: k for k, s in enumerate(steps) for t in s.outputs}
    readers = {}
    for k, s in enumerate(steps):
        for t in s.inputs:
            readers.setdefault(t, set()).add(k)
    done: set[int] = set()
    order = []

    def growth(k: int) -> int:
        s = steps[k]
        made = sum(sizes.get(t, 0) for t in s.outputs)
        freed = sum(sizes.get(t, 0) for t in set(s.inputs) if t not in keep and readers[t] - done == {k})
        return made - freed

    while len(order) < len(steps):
        ready = [k for k in range(len(steps)) if k not in done and
                 all(producer.get(t, -1) in done or t not in producer for t in steps[k].inputs)]
        k = min(ready, key=lambda k: (growth(k), k))
        done.add(k)
        order.append(steps[k])
    return order


def plan_best_order(steps, sizes: dict[int, int], graph_inputs, graph_outputs, keep_inputs: bool = True):
    """(steps in execution order, plan): the model's order, or the memory-greedy one when its
    arena is smaller."""
    plan = plan_memory(steps, sizes, graph_inputs, graph_outputs, keep_inputs)
    keep = set(graph_outputs) | (set(graph_inputs) if keep_inputs else set())
    other = memory_order(steps, sizes, keep)
    if [id(s) for s in other] != [id(s) for s in steps]:
        other_plan = plan_memory(other, sizes, graph_inputs, graph_outputs, keep_inputs)
        if other_plan.arena_bytes < plan.arena_bytes:
            return other, other_plan
    return list(steps), plan


def _forbidden(r: int, groups: dict, offsets: dict, margins: dict) -> list[tuple[int, int]]:
    """Open intervals of start offsets buffer r may not take, given the buffers placed so far."""
    b = groups[r]
    out = []
    for ro, off in offsets.items():
        o = groups[ro]
        if o.last < b.first or b.last < o.first:
            continue
        if (ro, r) in margins:      # r writes over o, its input: off_o - off_r >= margin
            out.append((off - min(b.size, margins[(ro, r)]), off + o.size))
        elif (r, ro) in margins:    # r is the input of o: off_r - off_o >= margin
            out.append((off - b.size, off + min(o.size, margins[(r, ro)])))
        else:
            out.append((off - b.size, off + o.size))
    return out


def _fits(c: int, forbidden) -> bool:
    return c >= 0 and all(c <= lo or c >= hi for lo, hi in forbidden)


def _chains(groups: dict, margins: dict) -> dict[int, dict[int, int]]:
    """Streaming chains (each op's output streamed from its input by the next op): for every
    member, its chain's relative offsets, the last output lowest and each input `margin`
    above its output, so a chain of equal tensors takes one tensor plus its margins."""
    nxt = {ri: ro for (ri, ro) in margins}
    prv = {ro: ri for (ri, ro) in margins}
    out: dict[int, dict[int, int]] = {}
    for head in nxt:
        if head in prv:
            continue
        rel, chain, r = {head: 0}, [head], head
        while r in nxt and nxt[r] not in rel:
            o = nxt[r]
            rel[o] = rel[r] - _align(min(margins[(r, o)], groups[o].size))
            chain.append(o)
            r = o
        low = min(rel.values())
        rel = {m: v - low for m, v in rel.items()}
        for m in chain:
            out[m] = rel
    return out


def _place(order: list[int], groups: dict, margins: dict, mode: str = "single") -> dict[int, int]:
    """First fit in the given order. "pairs": a streaming op's input is placed together with its
    output just below it (the output starting `margin` bytes lower), so the two share memory even
    when the input is placed first. "chains": a whole streaming chain is placed as one block."""
    offsets: dict[int, int] = {}
    chains = _chains(groups, margins) if mode == "chains" else {}
    for r in order:
        if r in offsets:
            continue
        if r in chains:
            rel = chains[r]
            forbs = {m: _forbidden(m, groups, offsets, margins) for m in rel}
            cands = sorted({0, *(_align(max(hi - rel[m], 0)) for m in rel for _, hi in forbs[m])})
            base = next((c for c in cands if all(_fits(c + rel[m], forbs[m]) for m in rel)), None)
            if base is not None:
                for m, v in rel.items():
                    offsets[m] = base + v
                continue
        forb = _forbidden(r, groups, offsets, margins)
        partner = next((ro for (ri, ro) in margins if ri == r and ro not in offsets), None) if mode == "pairs" else None
        if partner is not None:
            shift = min(margins[(r, partner)], groups[partner].size)
            forb_p = _forbidden(partner, groups, offsets, margins)
            cands = sorted({shift, *(_align(max(hi, 0)) for _, hi in forb),
                            *(_align(max(hi, 0)) + shift for _, hi in forb_p)})
            for c in cands:
                if c - shift >= 0 and _fits(c, forb) and _fits(c - shift, forb_p):
                    offsets[r], offsets[partner] = c, c - shift
                    break
            if r in offsets:
                continue
        cands = sorted({0, *(_align(max(hi, 0)) for _, hi in forb)})
        offsets[r] = next(c for c in cands if _fits(c, forb))
    return offsets


def _members(parent, find, root):
    return [t for t in parent if find(t) == root]
