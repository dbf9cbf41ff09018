"""Row-by-row fused residual blocks: CONV_2D -> CONV_2D -> ADD with the block's input.

In a residual block with an identity shortcut, x (the block input, needed by the ADD) and
y = conv1(x) are live together when the block runs layer by layer: two full tensors, which no
placement can avoid. Run row by row instead (MCUNetV2's patch-based inference, by rows):
for each output row r, compute the rows of y that conv2's window for row r needs into a slab
of a few rows, then conv2's row r into a row buffer, then out[r] = ADD(x[r], z[r]). Only x,
the slab and one row are live; out row r may be written over x row r once no later row of y
reads it (`RowSchedule.in_place`), so out shares x's memory.

The whole schedule is worked out here and emitted as two tables (`mcbk_residual_t` in
firmware/kernels/mcb_fused.h): per row of y, the window of x rows conv1 reads; per output row,
the window of y rows conv2 reads. The kernels take a window as a convolution over `rows`
input rows with `pad_top` rows of padding above, so windows that leave the tensor read the
zero point exactly as the whole-tensor call does: the outputs are the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcubench.runtimes.aot.graph import Graph
from mcubench.runtimes.aot.lower import Step, _c_array

FUSED_OPCODE = "CONV_2D+CONV_2D+ADD"


@dataclass(frozen=True)
class Window:
    first: int      # first input row read
    rows: int       # input rows read (those inside the tensor)
    pad_top: int    # rows of the window above `first` that lie outside the tensor


@dataclass
class RowSchedule:
    y_windows: list[Window]     # per row of y: the rows of x conv1 reads
    out_windows: list[Window]   # per output row: the rows of y conv2 reads
    slab_rows: int              # rows of y held at once
    in_place: bool              # out row r may be written over x row r


def window(row: int, geom: dict) -> Window:
    """The input rows one output row of a convolution reads, clipped to the input."""
    start = row * geom["stride_h"] - geom["pad_top"]
    first = max(start, 0)
    end = min(start + (geom["k_h"] - 1) * geom["dil_h"] + 1, geom["in_h"])
    return Window(first, max(end - first, 0), first - start)


def row_schedule(conv1: dict, conv2: dict) -> RowSchedule:
    """conv1, conv2: the two convolutions' geometry (lower._stream's fields)."""
    y_windows = [window(j, conv1) for j in range(conv1["out_h"])]
    out_windows = [window(r, conv2) for r in range(conv2["out_h"])]
    # x row r is overwritten right after output row r: every row of y computed later must
    # read x below row r (rows of y are computed in order, each once, when a window needs it)
    in_place, computed = True, 0
    for r, w in enumerate(out_windows):
        computed = max(computed, w.first + w.rows)
        later = [j for v in out_windows[r + 1:] for j in range(max(v.first, computed), v.first + v.rows)]
        in_place &= all(y_windows[j].first > r for j in later)
    return RowSchedule(y_windows, out_windows, max(w.rows for w in out_windows), in_place)


def _consumers(steps: list[Step], t: int) -> list[int]:
    return [k for k, s in enumerate(steps) if t in s.inputs]


def _block_at(g: Graph, steps: list[Step], k: int) -> tuple[int, int, int] | None:
    """(conv1, conv2, add) step positions when step k is the ADD of a fusable block."""
    add = steps[k]
    if add.opcode != "ADD" or len(add.inputs) != 2 or not add.in_place:
        return None
    for z, x in (add.inputs, add.inputs[::-1]):
        if x == z or g.tensors[x].shape != g.tensors[z].shape or len(g.tensors[z].shape) != 4:
            continue
        k2 = next((j for j, s in enumerate(steps) if z in s.outputs), None)
        if k2 is None or not steps[k2].row_call or _consumers(steps, z) != [k]:
            continue
        y = steps[k2].inputs[0]
        k1 = next((j for j, s in enumerate(steps) if y in s.outputs), None)
        if k1 is None or not steps[k1].row_call or steps[k1].inputs[0] != x or _consumers(steps, y) != [k2]:
            continue
        if y in g.outputs or z in g.outputs:
            continue
        return k1, k2, k
    return None


def fuse_residual_blocks(g: Graph, steps: list[Step]) -> list[Step]:
    """Each CONV_2D -> CONV_2D -> ADD(block input) becomes one row-by-row step, at the ADD's place."""
    steps = list(steps)
    k = 0
    while k < len(steps):
        block = _block_at(g, steps, k)
        if block is None:
            k += 1
            continue
        c1, c2, add = (steps[j] for j in block)
        fused = _fused_step(g, c1, c2, add)
        steps = [s for j, s in enumerate(steps) if j not in block[:2]]
        k = steps.index(add)
        steps[k] = fused
        k += 1
    return steps


def _fused_step(g: Graph, c1: Step, c2: Step, add: Step) -> Step:
    x, out = c1.inputs[0], add.outputs[0]
    y, z = c1.outputs[0], c2.outputs[0]
    sched = row_schedule(c1.stream, c2.stream)
    yg, xg = g.tensors[y], g.tensors[x]
    x_row = xg.size // xg.shape[1]
    y_row = yg.size // yg.shape[1]
    p = f"op{add.op_index}_block"
    flat = lambda ws: [v for w in ws for v in (w.first, w.rows, w.pad_top)]
    defs = (f"/* {FUSED_OPCODE} row by row: operators {c1.op_index}, {c2.op_index}, {add.op_index}; a slab of "
            f"{sched.slab_rows} rows of tensor {y}, one row of tensor {z} */\n")
    defs += _c_array("int16_t", f"{p}_ywin", flat(sched.y_windows))
    defs += _c_array("int16_t", f"{p}_outwin", flat(sched.out_windows))
    x_first = int(add.inputs[0] == x)
    fields = [f"&op{c1.op_index}", f"&op{c2.op_index}", c1.row_call, c2.row_call, f"&op{add.op_index}", x_first,
              len(sched.out_windows), x_row, y_row, sched.slab_rows, f"{p}_ywin", f"{p}_outwin"]
    defs += f"static const mcbk_residual_t {p} = {{{', '.join(map(str, fields))}}};\n"
    return Step(add.op_index, FUSED_OPCODE, [x], [out], c1.macs + c2.macs + add.macs,
                c1.params_c + c2.params_c + add.params_c + defs,
                f"mcbk_residual(&{p}, {{T{x}}}, {{T{out}}}, {{W}}, {{S}});",
                in_place=[x] if sched.in_place else [],
                weight_bytes=c1.weight_bytes + c2.weight_bytes + add.weight_bytes,
                scratch_bytes=max(c1.scratch_bytes, c2.scratch_bytes),
                overread=max(c1.overread, c2.overread), workspace=sched.slab_rows * y_row + x_row,
                source_ops=[c1.op_index, c2.op_index, add.op_index])
