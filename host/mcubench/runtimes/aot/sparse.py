"""Block-sparse lowering of CONV_2D and FULLY_CONNECTED (kernel: firmware/kernels/mcb_sparse.c).

The dense kernels' weight layout (lower.conv_weight_layout) is a sequence of 16-byte blocks:
4 output channels x 4 input bytes of one kernel row. A block whose 16 weights are all zero
contributes nothing, so the sparse kernel keeps only the others, each with the byte offset of
its 4 input bytes from the window's origin: ``ky * dil_h * in_w * in_c + col`` for a pixel
read in place, ``ky * row_pad + col`` for a border pixel's gathered window (two tables, both
known at compile time). The folded bias keeps the full weight sums, so outputs stay bit-exact.

Dense or sparse is chosen per layer from estimated Cortex-M4 cycles, with the rules and cost
table of docs/cycle-estimate.md (boards/cores/cortex-m4f.json): a single LDR 2, or 1 right after
a single load unless its address register was written by that load (a post-increment writes its
base); LDRD 3; ALU/SXTB16/SMLAD 1; a taken branch 1 + refill 2. A block is 16 MACs of one output
pixel (4 channels x 4 input bytes). The inner loops, counted by hand:

* dense, long requantization, two pixels (mcb_kernels.c ``mcbk_dot_2px4ch``; interior pixel
  pairs and pointwise convolutions): a step is LDR 2+1+1 (three bases), 8 SXTB16, 8 SMLAD, LDR 2 = 22 for both
  pixels x 2 channels x 4 bytes, plus SUBS + taken BNE 4 per two steps: 24 a step; a block of
  both pixels is two steps (two channel passes): **24 per pixel and block**. The assembly's
  bookkeeping per group and pixel pair (bias, pass setup and ends, accumulator stores) is 79,
  and per kernel row and pass 21: **40 + 21 x rows per pixel and group** (rows = 1 for a
  pointwise kernel or one-word rows gathered into one). An odd last pixel of a pointwise conv is
  computed as a pair with itself.
* dense, one pixel (``dot_row4``; border and odd pixels): LDR 2+1+1, 8 SXTB16, 8 SMLAD, LDR 2+1
  = 25, plus SUBS + BNE 4 per two blocks: **27 per block**, and **4 per group and kernel row**
  (loop entry, less the last BNE falling through).
* dense FULLY_CONNECTED (one pixel, one kernel row: ``mcbk_fc_rows4``, assembly): five single
  loads back to back 2+1+1+1+1, 2 SXTB16 for the input, 8 SXTB16 and 8 SMLAD = 24, plus SUBS +
  BNE 4 per four blocks: **25 per block**.
* dense with the short requantization (``mcbk_conv_2px_rq``; every pixel of a convolution, in
  pairs): each window sign-extended once per pair, then a step is six single loads back to back
  2+1+1+1+1+1 (the extended input words of both pixels and two weight words), 4 SXTB16, 8 SMLAD
  = 19 for 2 pixels x 2 channels x 4 bytes, plus SUBS + BNE 4 per eight steps: **19.5 per
  pixel and block**. Per group and pixel pair 126 beside the steps, counted (two passes'
  set-up, the requantization of the 8 sums in registers, pack, store, group loop; 132 when the
  activation bounds need the clamp): **65 per pixel and group** as fitted; the sign extension about **9 per pixel and 4 window bytes**; and per pixel
  **125** for the call, its set-up and the C loop (fitted to the plugin's per-operator figures,
  2026-11-30: ref_mobilenet's pointwise layers of 8, 16 and 64 input channels, 564, 1,311 and
  6,303 cycles per pixel, and ref_dscnn's 64-channel ones, 6,307 per pixel of a pair).
* sparse (mcb_sparse.c ``sparse_group``): LDRH 2 (offset), two weight LDR 1+1, the input LDR 1
  (register offset from the LDRH two loads back), 16 SXTB16/SMLAD, LDR 2+1 = 26, plus SUBS +
  BNE 4 per two blocks: **28 per kept block**; **7 per group** (count load and test, loop entry).

What remains per group and pixel is compiled C — bias loads, requantization of 4 channels,
stores, loop control — and is taken from the estimate plugin's per-operator cycles (the same
instructions priced with the same table) on kws_dscnn's pointwise layers with the kernel
forced, 64 and 32 channels (kws_dscnn 2026-11-29): **106** for the sparse kernel, **99** per
pixel for the two-pixel path's paired requantization pass; for FULLY_CONNECTED **83** per group,
all of it in the assembly (bias, loop entry and exit, requantization of the four sums in
registers, store, group loop; ref_autoencoder 2026-11-29: 28,266 cycles for 32 groups of 32
blocks, 130,668 for 32 groups of 160) and **133** for a
convolution's border and odd pixels (``mcbk_conv2d``'s group loop and ``conv_out4``: not fitted
separately; the sparse kernel's figure when its group loop had the same shape, which matches
the plugin on kws_dscnn's first layer: sparse 0.86 M vs dense 0.96 M, predicted ahead too).
So with no zero block a 64-channel pointwise layer stays dense (24 + 160/16 vs 28 + 113/16
per block) and a 32-channel one goes sparse (24 + 160/8 vs 28 + 113/8), as the plugin
confirms (dense 1.089 M vs sparse 1.116 M; dense 358 k vs sparse 342 k cycles). The dense
price counts which output pixels take the two-pixel path (``dense_pixel_mix``); the decision
compares the layer's totals. Per-pixel averages are in the generated C as a comment; whole-model figures
(estimate plugin on QEMU mps2-an386) are in docs/aot.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DENSE_2PX_BLOCK_CYCLES = 24      # per pixel: half of a pixel pair's two 24-cycle steps
DENSE_2PX_GROUP_CYCLES = 40      # per pixel: half of a pair's 79 cycles of assembly bookkeeping
DENSE_2PX_ROW_CYCLES = 21        # per pixel, group and kernel row: half of two passes' 21
DENSE_2PX_OUT_CYCLES = 99        # per pixel and group: the paired requantization pass (plugin)
DENSE_1PX_BLOCK_CYCLES = 27
DENSE_1PX_ROW_CYCLES = 4         # per group and kernel row: dot_row4's entry and exit
DENSE_1PX_OUT_CYCLES = 133       # per pixel and group: bias, requantization, store, loop (see above)
DENSE_FC_BLOCK_CYCLES = 25       # FULLY_CONNECTED (mcbk_fc_rows4): 24 a step, loop 4 per 4 steps
DENSE_FC_GROUP_CYCLES = 83       # per group: everything beside the steps (plugin, see above)
DENSE_RQ_BLOCK_CYCLES = 19.5     # short requantization (mcbk_conv_2px_rq): per pixel, half a pair's two 19.5-cycle steps
DENSE_RQ_GROUP_CYCLES = 65       # per pixel and group: half of the pair's 126 beside the steps, + 2 (plugin)
DENSE_RQ_STEP_CYCLES = 9         # per pixel and 4 window bytes: the window's sign extension
DENSE_RQ_PIXEL_CYCLES = 125      # per pixel: the loop in C, the call, the set-up (plugin, see above)
SPARSE_BLOCK_CYCLES = 28
SPARSE_GROUP_CYCLES = 7          # count load and test, loop entry and exit
SPARSE_OUT_CYCLES = 106          # per pixel and group: bias, requantization, store, loop (plugin)


def dense_pixel_mix(geom: dict) -> tuple[int, int, int]:
    """(pixel slots of the two-pixel kernel, pixels computed one by one, output pixels) per
    batch, following mcbk_conv2d's path choice (DSP build)."""
    out_h, out_w, k_h, k_w = geom["out_h"], geom["out_w"], geom["k_h"], geom["k_w"]
    pixels = out_h * out_w
    if out_h == out_w == 1:
        return 0, pixels, pixels
    if (k_h == k_w == 1 and geom["stride_h"] == geom["stride_w"] == 1 and geom["pad_top"] == geom["pad_left"] == 0
            and (out_h, out_w) == (geom["in_h"], geom["in_w"])):
        return 2 * ((pixels + 1) // 2), 0, pixels   # pointwise: an odd last pixel is a pair with itself
    if geom["dil_w"] != 1:
        return 0, pixels, pixels
    span_h, span_w = (k_h - 1) * geom["dil_h"], k_w - 1
    rows_inside = sum(1 for oy in range(out_h)
                      if 0 <= oy * geom["stride_h"] - geom["pad_top"] and
                      oy * geom["stride_h"] - geom["pad_top"] + span_h < geom["in_h"])
    pairs, ox = 0, 0
    while ox < out_w:
        ix0 = ox * geom["stride_w"] - geom["pad_left"]
        if ox + 1 < out_w and ix0 >= 0 and ix0 + geom["stride_w"] + span_w < geom["in_w"]:
            pairs, ox = pairs + 1, ox + 2
        else:
            ox += 1
    return 2 * pairs * rows_inside, pixels - 2 * pairs * rows_inside, pixels


def estimated_cycles(groups: int, blocks_per_group: int, kept_blocks: int, k_h: int, pixel_mix: tuple[int, int, int],
                     one_row: bool, fast_rq: bool = False) -> tuple[int, int]:
    """(dense, sparse) estimated cycles of a layer's output pixels (pixel_mix: dense_pixel_mix),
    without what both pay alike (border gathering, the call). With the short requantization
    (fast_rq) a convolution's pixels all go in pairs through mcbk_conv_2px_rq (an odd last one
    costs a pair)."""
    paired, single, pixels = pixel_mix
    rows = 1 if one_row else k_h
    blocks = groups * blocks_per_group
    sparse = SPARSE_BLOCK_CYCLES * kept_blocks + (SPARSE_GROUP_CYCLES + SPARSE_OUT_CYCLES) * groups
    if fast_rq and not (pixels == 1 and k_h == 1):
        dense_rq = (DENSE_RQ_BLOCK_CYCLES * blocks + DENSE_RQ_GROUP_CYCLES * groups
                    + DENSE_RQ_STEP_CYCLES * blocks_per_group + DENSE_RQ_PIXEL_CYCLES)
        return 2 * ((pixels + 1) // 2) * dense_rq, pixels * sparse
    dense_2px = DENSE_2PX_BLOCK_CYCLES * blocks + (DENSE_2PX_GROUP_CYCLES + DENSE_2PX_ROW_CYCLES * rows
                                                   + DENSE_2PX_OUT_CYCLES) * groups
    if pixels == 1 and k_h == 1:  # FULLY_CONNECTED, or a 1x1 convolution of a 1x1 image
        dense_1px = DENSE_FC_BLOCK_CYCLES * blocks + DENSE_FC_GROUP_CYCLES * groups
    else:
        dense_1px = DENSE_1PX_BLOCK_CYCLES * blocks + (DENSE_1PX_ROW_CYCLES * k_h + DENSE_1PX_OUT_CYCLES) * groups
    return paired * dense_2px + single * dense_1px, pixels * sparse


@dataclass
class SparseBlocks:
    nnz: np.ndarray             # uint16 per group
    offsets: np.ndarray         # uint16 per kept block: byte offset in the input (pixel read in place)
    border_offsets: np.ndarray  # uint16 per kept block: byte offset in the gathered window
    weights: np.ndarray         # int8, 16 bytes per kept block
    blocks: int                 # blocks of the dense layout per group
    dense_cycles: int           # estimated per output pixel (average over the layer's pixels)
    sparse_cycles: int

    @property
    def kept(self) -> int:
        return int(self.nnz.sum())


def encode(layout: np.ndarray, groups: int, k_h: int, row_pad: int, in_row_stride: int,
           pixel_mix: tuple[int, int, int] = (0, 1, 1), fast_rq: bool = False) -> SparseBlocks:
    """The non-zero 16-byte blocks of a dense layout ([groups][k_h][row_pad/4][4 ch][4 bytes]);
    pixel_mix is dense_pixel_mix's count and fast_rq the layer's short requantization, for the
    estimates."""
    per_row = row_pad // 4
    cube = np.asarray(layout, np.int8).reshape(groups, k_h * per_row, 16)
    keep = np.any(cube != 0, axis=2)
    nnz = keep.sum(axis=1).astype(np.int64)
    index = np.nonzero(keep)[1]                      # row-major: group by group
    ky, col = index // per_row, (index % per_row) * 4
    one_row = k_h == 1 or row_pad == 4  # pointwise, or one-word rows gathered into one
    dense, sparse = estimated_cycles(groups, k_h * per_row, int(nnz.sum()), k_h, pixel_mix, one_row, fast_rq)
    pixels = max(pixel_mix[2], 1)
    return SparseBlocks(nnz, ky * in_row_stride + col, ky * row_pad + col, cube[keep].reshape(-1),
                        k_h * per_row, round(dense / pixels), round(sparse / pixels))


def choose(layout: np.ndarray, geom: dict, row_pad: int, fast_rq: bool = False) -> SparseBlocks | None:
    """The sparse encoding when the sparse kernel runs the layer (contiguous kernel rows: no
    horizontal dilation; offsets within 16 bits) and its estimated cycles are lower than the
    dense kernel's (fast_rq: the layer has the short requantization); else None."""
    if geom["dil_w"] != 1:
        return None
    groups = (geom["out_c"] + 3) // 4
    enc = encode(layout, groups, geom["k_h"], row_pad, geom["dil_h"] * geom["in_w"] * geom["in_c"],
                 dense_pixel_mix(geom), fast_rq)
    if len(enc.offsets) and max(int(enc.offsets.max()), int(enc.border_offsets.max())) > 0xFFFF or enc.nnz.max(initial=0) > 0xFFFF:
        return None
    return enc if enc.sparse_cycles < enc.dense_cycles else None


def struct_fields(geom: dict, in_zp: int, out_zp: int, amin: int, amax: int, fast: int, prefix: str) -> list:
    """The initializer of mcbk_sparse_t (same order as mcb_sparse.h)."""
    order = ["batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h", "stride_w",
             "dil_h", "pad_top", "pad_left", "row_pad"]
    return [geom[k] for k in order] + [in_zp, out_zp, amin, amax, fast, f"{prefix}_nnz", f"{prefix}_off",
                                       f"{prefix}_offb", f"{prefix}_w", f"{prefix}_bias", f"{prefix}_rq"]
