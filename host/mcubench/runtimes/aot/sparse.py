"""Block-sparse lowering of CONV_2D and FULLY_CONNECTED (kernel: firmware/kernels/mcb_sparse.c).

The dense kernels' weight layout (lower.conv_weight_layout) is a sequence of 16-byte blocks:
4 output channels x 4 input bytes of one kernel row. A block whose 16 weights are all zero
contributes nothing, so the sparse kernel keeps only the others, each with the byte offset of
its 4 input bytes from the window's origin: ``ky * dil_h * in_w * in_c + col`` for a pixel
read in place, ``ky * row_pad + col`` for a border pixel's gathered window (two tables, both
known at compile time). The folded bias keeps the full weight sums, so outputs stay bit-exact.

Dense or sparse is chosen per layer from estimated Cortex-M4 cycles per output pixel, counted
from the two inner loops' instructions with the cost table of docs/cycle-estimate.md
(boards/cores/cortex-m4f.json):

* dense block (mcb_kernels.c ``dot_row4``): LDR 2 + 2 LDRD 3+3 + 2 SXTB16 + 8 SXTB16/SMLAD x2 (16)
  + SUBS 1 + taken BNE 3 = 30 cycles per 16 MACs;
* sparse block (mcb_sparse.c ``sparse_group``): the same plus LDRH 2 for the offset = 32;
* per group of 4 output channels both pay the bias loads, four requantizations and stores
  (the same in both, so they cancel); the sparse group pays a count load and test (4) and the
  dense one a loop entry per kernel row (4).

So ``sparse`` wins when ``32 * kept + 4 * groups < 30 * blocks + 4 * groups * k_h``, i.e. when
more than about 1/16 of the blocks are zero; the per-layer figures are in the generated C as a
comment.
Measured whole-model figures (estimate plugin on QEMU mps2-an386) are in docs/aot.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DENSE_BLOCK_CYCLES = 30
SPARSE_BLOCK_CYCLES = 32
GROUP_CYCLES = 4  # the part of a group's overhead that differs: count load+test (sparse), row call (dense)


def estimated_cycles(groups: int, blocks_per_group: int, kept_blocks: int, k_h: int = 1) -> tuple[int, int]:
    """(dense, sparse) estimated cycles of one output pixel's inner loops."""
    dense = DENSE_BLOCK_CYCLES * groups * blocks_per_group + GROUP_CYCLES * groups * k_h
    sparse = SPARSE_BLOCK_CYCLES * kept_blocks + GROUP_CYCLES * groups
    return dense, sparse


@dataclass
class SparseBlocks:
    nnz: np.ndarray             # uint16 per group
    offsets: np.ndarray         # uint16 per kept block: byte offset in the input (pixel read in place)
    border_offsets: np.ndarray  # uint16 per kept block: byte offset in the gathered window
    weights: np.ndarray         # int8, 16 bytes per kept block
    blocks: int                 # blocks of the dense layout per group
    dense_cycles: int           # estimated per output pixel
    sparse_cycles: int

    @property
    def kept(self) -> int:
        return int(self.nnz.sum())


def encode(layout: np.ndarray, groups: int, k_h: int, row_pad: int, in_row_stride: int) -> SparseBlocks:
    """The non-zero 16-byte blocks of a dense layout ([groups][k_h][row_pad/4][4 ch][4 bytes])."""
    per_row = row_pad // 4
    cube = np.asarray(layout, np.int8).reshape(groups, k_h * per_row, 16)
    keep = np.any(cube != 0, axis=2)
    nnz = keep.sum(axis=1).astype(np.int64)
    index = np.nonzero(keep)[1]                      # row-major: group by group
    ky, col = index // per_row, (index % per_row) * 4
    dense, sparse = estimated_cycles(groups, k_h * per_row, int(nnz.sum()), k_h)
    return SparseBlocks(nnz, ky * in_row_stride + col, ky * row_pad + col, cube[keep].reshape(-1),
                        k_h * per_row, dense, sparse)


def choose(layout: np.ndarray, geom: dict, row_pad: int) -> SparseBlocks | None:
    """The sparse encoding when the sparse kernel runs the layer (contiguous kernel rows: no
    horizontal dilation; offsets within 16 bits) and its estimated cycles are lower than the
    dense kernel's; else None."""
    if geom["dil_w"] != 1:
        return None
    groups = (geom["out_c"] + 3) // 4
    enc = encode(layout, groups, geom["k_h"], row_pad, geom["dil_h"] * geom["in_w"] * geom["in_c"])
    if len(enc.offsets) and max(int(enc.offsets.max()), int(enc.border_offsets.max())) > 0xFFFF or enc.nnz.max(initial=0) > 0xFFFF:
        return None
    return enc if enc.sparse_cycles < enc.dense_cycles else None


def struct_fields(geom: dict, in_zp: int, out_zp: int, amin: int, amax: int, fast: int, prefix: str) -> list:
    """The initializer of mcbk_sparse_t (same order as mcb_sparse.h)."""
    order = ["batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h", "stride_w",
             "dil_h", "pad_top", "pad_left", "row_pad"]
    return [geom[k] for k in order] + [in_zp, out_zp, amin, amax, fast, f"{prefix}_nnz", f"{prefix}_off",
                                       f"{prefix}_offb", f"{prefix}_w", f"{prefix}_bias", f"{prefix}_rq"]
