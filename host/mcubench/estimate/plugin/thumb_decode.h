/* Classifies one Thumb/Thumb-2 instruction (ARMv7E-M + FPv4-SP) into the cost classes of
 * the Cortex-M4 cycle model. Decoding happens once per instruction at translation time. */
#ifndef MCB_THUMB_DECODE_H
#define MCB_THUMB_DECODE_H

#include <stdint.h>

enum insn_kind {
    K_ALU,          /* data processing, moves, shifts, extends, bitfield, saturate: 1 */
    K_MUL,          /* MUL, MLA, MLS, SMULxy, SMLAxy, SMLAD, SMUAD, ...: 32-bit result */
    K_MUL_LONG,     /* SMULL, UMULL, SMLAL, UMLAL, SMLALD, ...: 64-bit result */
    K_DIV,          /* SDIV, UDIV */
    K_LOAD,         /* LDR/LDRB/LDRH/LDRSB/LDRSH single (immediate, register, literal) */
    K_STORE,        /* STR/STRB/STRH single */
    K_LOAD_DUAL,    /* LDRD */
    K_STORE_DUAL,   /* STRD */
    K_LDM,          /* LDM/POP (register count in nregs) */
    K_STM,          /* STM/PUSH */
    K_EXCLUSIVE,    /* LDREX/STREX and byte/half variants */
    K_BRANCH,       /* B, Bcc, BL, BX, BLX, CBZ/CBNZ, MOV/ADD PC */
    K_TABLE_BRANCH, /* TBB/TBH */
    K_IT,           /* IT */
    K_HINT,         /* NOP, YIELD, WFI, WFE, SEV, PLD/PLI, CPS, BKPT, SVC, MSR, MRS */
    K_BARRIER,      /* DMB, DSB, ISB, CLREX */
    K_VFP_ALU,      /* VADD, VSUB, VMUL, VNMUL, VABS, VNEG, VCMP, VCVT, VMOV imm/reg */
    K_VFP_MAC,      /* VMLA, VMLS, VNMLA, VNMLS, VFMA, VFMS, VFNMA, VFNMS */
    K_VFP_DIV,      /* VDIV */
    K_VFP_SQRT,     /* VSQRT */
    K_VLDR,         /* VLDR */
    K_VSTR,         /* VSTR */
    K_VLDM,         /* VLDM/VPOP (word count in nregs) */
    K_VSTM,         /* VSTM/VPUSH */
    K_VMOV_CORE,    /* VMOV between one core register and one S register, VMRS, VMSR */
    K_VMOV_CORE2,   /* VMOV between two core registers and a D register or two S registers */
    K_MARKER_HINT,  /* our region marker: reserved hint 0xF3AF 0x80B1 (begin) / 0x80B2 (end) */
    K_UNKNOWN,      /* anything else (costed as 1) */
    K_COUNT
};

typedef struct {
    uint8_t kind;
    uint8_t size;          /* 2 or 4 bytes */
    uint8_t nregs;         /* LDM/STM/PUSH/POP register count; VLDM/VSTM word count */
    uint8_t writes_pc;     /* changes control flow */
    uint8_t cond;          /* conditional by its own encoding (Bcc, CBZ, CBNZ) */
    uint8_t literal;       /* PC-relative load */
    uint8_t reg_offset;    /* load/store with a register offset */
    uint8_t it_count;      /* for IT: instructions in the block */
    uint8_t marker_kind;   /* for K_MARKER_HINT: 1 begin, 2 end */
    uint8_t marker_load;   /* LDRB.W IP, [Rn, #0]: the load that carries a marker's id */
    uint16_t addr_regs;    /* core registers used to form the address (bit n = Rn) */
    uint16_t writes;       /* core registers written (bit n = Rn) */
} insn_info;

/* Decodes the instruction at `bytes` (little-endian halfwords, `size` 2 or 4). */
void thumb_decode(const uint8_t *bytes, unsigned size, insn_info *out);

/* Size of the instruction starting with halfword hw1. */
static inline unsigned thumb_insn_size(uint16_t hw1)
{
    return ((hw1 >> 11) >= 0x1d) ? 4 : 2;
}

#endif
