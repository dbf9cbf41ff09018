/* Thumb/Thumb-2 classification for the Cortex-M4 cost model (see thumb_decode.h).
 * Encodings follow the ARMv7-M Architecture Reference Manual, chapter A5/A6 tables.
 * Only what the cost model needs is extracted: the cost class, register counts and the
 * registers read for addresses / written, so the dependency rules can be applied. */
#include "thumb_decode.h"

#include <string.h>

#define BIT(n) (1u << (n))
#define PC 15
#define LR 14
#define SP 13

static unsigned popcount16(unsigned v)
{
    return (unsigned)__builtin_popcount(v & 0xffffu);
}

static void decode16(uint16_t hw, insn_info *d)
{
    unsigned top6 = hw >> 10;
    if ((hw >> 14) == 0) {
        /* shift (imm), add, subtract, move, compare */
        unsigned op = (hw >> 9) & 0x1f;
        if (op < 0x10) {                      /* LSL/LSR/ASR imm, ADD/SUB reg/imm3 */
            d->writes = BIT(hw & 7);
        } else {                              /* MOV/CMP/ADD/SUB imm8 */
            unsigned sub = (hw >> 11) & 3;
            if (sub != 1) /* CMP writes nothing */
                d->writes = BIT((hw >> 8) & 7);
        }
        return;
    }
    if (top6 == 0x10) {                       /* data processing (register) */
        unsigned op = (hw >> 6) & 0xf;
        if (op == 0xd)
            d->kind = K_MUL;
        if (op != 0x8 && op != 0xa && op != 0xb) /* TST, CMP, CMN write nothing */
            d->writes = BIT(hw & 7);
        return;
    }
    if (top6 == 0x11) {                       /* special data processing, BX/BLX */
        unsigned op = (hw >> 8) & 3;
        unsigned rd = ((hw >> 4) & 8) | (hw & 7);
        if (op == 3) {                        /* BX / BLX */
            d->kind = K_BRANCH;
            d->writes_pc = 1;
            if (hw & 0x80)
                d->writes = BIT(LR);
        } else if (op != 1) {                 /* ADD / MOV (high registers) */
            d->writes = BIT(rd);
            if (rd == PC) {
                d->kind = K_BRANCH;
                d->writes_pc = 1;
            }
        }
        return;
    }
    if ((hw >> 11) == 0x09) {                 /* LDR (literal) */
        d->kind = K_LOAD;
        d->literal = 1;
        d->writes = BIT((hw >> 8) & 7);
        return;
    }
    if ((hw >> 12) == 0x5) {                  /* load/store register offset */
        unsigned opb = (hw >> 9) & 7;
        d->kind = opb >= 3 ? K_LOAD : K_STORE;
        d->reg_offset = 1;
        d->addr_regs = BIT((hw >> 3) & 7) | BIT((hw >> 6) & 7);
        if (d->kind == K_LOAD)
            d->writes = BIT(hw & 7);
        return;
    }
    if ((hw >> 13) == 0x3 || (hw >> 12) == 0x8) { /* LDR/STR(B) imm5, LDRH/STRH imm5 */
        d->kind = (hw & 0x0800) ? K_LOAD : K_STORE;
        d->addr_regs = BIT((hw >> 3) & 7);
        if (d->kind == K_LOAD)
            d->writes = BIT(hw & 7);
        return;
    }
    if ((hw >> 12) == 0x9) {                  /* LDR/STR SP-relative */
        d->kind = (hw & 0x0800) ? K_LOAD : K_STORE;
        d->addr_regs = BIT(SP);
        if (d->kind == K_LOAD)
            d->writes = BIT((hw >> 8) & 7);
        return;
    }
    if ((hw >> 12) == 0xa) {                  /* ADR, ADD Rd, SP, #imm */
        d->writes = BIT((hw >> 8) & 7);
        return;
    }
    if ((hw >> 12) == 0xb) {                  /* miscellaneous 16-bit */
        unsigned op = (hw >> 5) & 0x7f;
        if ((op & 0x7c) == 0x00) {            /* ADD/SUB SP, SP, #imm */
            d->writes = BIT(SP);
        } else if ((hw & 0x0500) == 0x0100) { /* CBZ / CBNZ */
            d->kind = K_BRANCH;
            d->writes_pc = 1;
            d->cond = 1;
        } else if ((op & 0x78) == 0x10) {     /* SXTH, SXTB, UXTH, UXTB */
            d->writes = BIT(hw & 7);
        } else if ((op & 0x70) == 0x20) {     /* PUSH */
            d->kind = K_STM;
            d->nregs = (uint8_t)(popcount16(hw & 0xff) + ((hw >> 8) & 1));
            d->writes = BIT(SP);
            d->addr_regs = BIT(SP);
        } else if ((op & 0x78) == 0x50) {     /* REV, REV16, REVSH */
            d->writes = BIT(hw & 7);
        } else if ((op & 0x70) == 0x60) {     /* POP */
            d->kind = K_LDM;
            d->nregs = (uint8_t)(popcount16(hw & 0xff) + ((hw >> 8) & 1));
            d->writes = (uint16_t)((hw & 0xff) | BIT(SP) | ((hw & 0x100) ? BIT(PC) : 0));
            d->addr_regs = BIT(SP);
            if (hw & 0x100) {
                d->writes_pc = 1;
            }
        } else if ((op & 0x78) == 0x70) {     /* BKPT */
            d->kind = K_HINT;
        } else if ((op & 0x78) == 0x78) {     /* IT and hints */
            if (hw & 0xf) {
                unsigned mask = hw & 0xf;
                d->kind = K_IT;
                d->it_count = (uint8_t)(4 - __builtin_ctz(mask));
            } else {
                d->kind = K_HINT;
            }
        } else {                              /* CPS and the rest */
            d->kind = K_HINT;
        }
        return;
    }
    if ((hw >> 12) == 0xc) {                  /* STM / LDM */
        unsigned rn = (hw >> 8) & 7;
        d->kind = (hw & 0x0800) ? K_LDM : K_STM;
        d->nregs = (uint8_t)popcount16(hw & 0xff);
        d->addr_regs = BIT(rn);
        d->writes = BIT(rn) | (d->kind == K_LDM ? (hw & 0xff) : 0);
        return;
    }
    if ((hw >> 12) == 0xd) {                  /* B<cond>, UDF, SVC */
        unsigned cond = (hw >> 8) & 0xf;
        if (cond >= 0xe) {
            d->kind = K_HINT;
        } else {
            d->kind = K_BRANCH;
            d->writes_pc = 1;
            d->cond = 1;
        }
        return;
    }
    if ((hw >> 11) == 0x1c) {                 /* B (unconditional) */
        d->kind = K_BRANCH;
        d->writes_pc = 1;
        return;
    }
    d->kind = K_UNKNOWN;
}

static void decode_vfp(uint16_t hw1, uint16_t hw2, insn_info *d)
{
    if ((hw2 & 0x0e00) != 0x0a00) {           /* not coprocessor 10/11: not FPv4 */
        d->kind = K_UNKNOWN;
        return;
    }
    if ((hw1 & 0xfe00) == 0xec00) {
        if ((hw1 & 0xffe0) == 0xec40) {       /* VMOV two core registers <-> D / two S */
            d->kind = K_VMOV_CORE2;
            if (hw1 & 0x10)
                d->writes = BIT((hw2 >> 12) & 0xf) | BIT(hw1 & 0xf);
            return;
        }
    }
    if ((hw1 & 0xfe00) == 0xec00) {
        /* extension register load/store: P U D W L in hw1[8:4] */
        unsigned p = (hw1 >> 8) & 1, w = (hw1 >> 5) & 1, l = (hw1 >> 4) & 1;
        unsigned rn = hw1 & 0xf;
        d->addr_regs = BIT(rn);
        if (p == 1 && w == 0) {               /* VLDR / VSTR */
            d->kind = l ? K_VLDR : K_VSTR;
            d->literal = (uint8_t)(l && rn == PC);
        } else {                              /* VLDM / VSTM / VPUSH / VPOP */
            d->kind = l ? K_VLDM : K_VSTM;
            d->nregs = (uint8_t)(hw2 & 0xff); /* words transferred */
            if (w)
                d->writes = BIT(rn);
        }
        return;
    }
    if ((hw1 & 0xff00) == 0xee00) {
        if (hw2 & 0x10) {                     /* VMOV core<->S, VMRS, VMSR */
            d->kind = K_VMOV_CORE;
            if ((hw1 & 0x10) && ((hw2 >> 12) & 0xf) != PC) /* to core (VMRS APSR_nzcv writes flags) */
                d->writes = BIT((hw2 >> 12) & 0xf);
            return;
        }
        /* data processing: opc1 = hw1[7], hw1[5:4]; opc2 = hw1[3:0]; opc3 = hw2[7:6] */
        unsigned opc1 = (((hw1 >> 7) & 1) << 2) | ((hw1 >> 4) & 3);
        unsigned opc2 = hw1 & 0xf;
        unsigned opc3 = (hw2 >> 6) & 3;
        switch (opc1) {
        case 0: case 1:                       /* VMLA/VMLS, VNMLA/VNMLS */
        case 5: case 6:                       /* VFNMA/VFNMS, VFMA/VFMS */
            d->kind = K_VFP_MAC;
            break;
        case 2: case 3:                       /* VMUL/VNMUL, VADD/VSUB */
            d->kind = K_VFP_ALU;
            break;
        case 4:
            d->kind = (opc3 & 1) ? K_UNKNOWN : K_VFP_DIV;
            break;
        case 7:
            if ((opc3 & 1) && opc2 == 1 && opc3 == 3)
                d->kind = K_VFP_SQRT;
            else
                d->kind = K_VFP_ALU;          /* VMOV, VABS, VNEG, VCMP, VCVT */
            break;
        }
        return;
    }
    d->kind = K_UNKNOWN;
}

static void decode32(uint16_t hw1, uint16_t hw2, insn_info *d)
{
    unsigned op1 = (hw1 >> 11) & 3;
    unsigned op2 = (hw1 >> 4) & 0x7f;

    if (op1 == 1) {
        if ((op2 & 0x64) == 0x00) {           /* load/store multiple */
            unsigned rn = hw1 & 0xf, l = (hw1 >> 4) & 1, w = (hw1 >> 5) & 1;
            d->kind = l ? K_LDM : K_STM;
            d->nregs = (uint8_t)popcount16(hw2);
            d->addr_regs = BIT(rn);
            d->writes = (uint16_t)((w ? BIT(rn) : 0) | (l ? hw2 : 0));
            if (l && (hw2 & 0x8000))
                d->writes_pc = 1;
            return;
        }
        if ((op2 & 0x64) == 0x04) {           /* dual / exclusive / table branch */
            unsigned o1 = (hw1 >> 7) & 3, o2 = (hw1 >> 4) & 3, o3 = (hw2 >> 4) & 0xf;
            unsigned rn = hw1 & 0xf;
            d->addr_regs = BIT(rn);
            if (o1 == 0 && o2 <= 1) {         /* STREX / LDREX */
                d->kind = K_EXCLUSIVE;
                d->writes = o2 ? BIT((hw2 >> 12) & 0xf) : BIT((hw2 >> 8) & 0xf);
            } else if (o1 == 1 && o2 == 0) {  /* STREXB / STREXH */
                d->kind = K_EXCLUSIVE;
                d->writes = BIT(hw2 & 0xf);
            } else if (o1 == 1 && o2 == 1) {
                if (o3 <= 1) {                /* TBB / TBH */
                    d->kind = K_TABLE_BRANCH;
                    d->writes_pc = 1;
                    d->addr_regs = BIT(rn) | BIT(hw2 & 0xf);
                } else {                      /* LDREXB / LDREXH */
                    d->kind = K_EXCLUSIVE;
                    d->writes = BIT((hw2 >> 12) & 0xf);
                }
            } else {                          /* LDRD / STRD */
                unsigned l = (hw1 >> 4) & 1, w = (hw1 >> 5) & 1;
                d->kind = l ? K_LOAD_DUAL : K_STORE_DUAL;
                d->literal = (uint8_t)(l && rn == PC);
                d->writes = (uint16_t)((w ? BIT(rn) : 0) |
                                       (l ? (BIT((hw2 >> 12) & 0xf) | BIT((hw2 >> 8) & 0xf)) : 0));
            }
            return;
        }
        if ((op2 & 0x60) == 0x20) {           /* data processing (shifted register) */
            unsigned rd = (hw2 >> 8) & 0xf;
            if (rd != PC)                     /* TST/TEQ/CMP/CMN encode Rd = PC */
                d->writes = BIT(rd);
            return;
        }
        decode_vfp(hw1, hw2, d);              /* coprocessor */
        return;
    }

    if (op1 == 2) {
        if (!(hw2 & 0x8000)) {                /* data processing (immediate) */
            unsigned rd = (hw2 >> 8) & 0xf;
            if (rd != PC)
                d->writes = BIT(rd);
            return;
        }
        /* branches and miscellaneous control */
        unsigned c = (hw2 >> 12) & 7;
        if ((c & 5) == 0) {                   /* op1' = 0x0 */
            if ((op2 & 0x38) != 0x38) {       /* B<cond>.W */
                d->kind = K_BRANCH;
                d->writes_pc = 1;
                d->cond = 1;
                return;
            }
            if (op2 == 0x3a) {                /* hints */
                unsigned hint = hw2 & 0xff;
                if (hw1 == 0xf3af && (hint == 0xb1 || hint == 0xb2)) {
                    d->kind = K_MARKER_HINT;
                    d->marker_kind = (uint8_t)(hint - 0xb0);
                } else {
                    d->kind = K_HINT;
                }
                return;
            }
            if (op2 == 0x3b) {                /* DSB, DMB, ISB, CLREX */
                d->kind = K_BARRIER;
                if (((hw2 >> 4) & 0xf) == 6)  /* ISB flushes the pipeline */
                    d->writes_pc = 0;
                return;
            }
            if ((op2 & 0x7e) == 0x3e) {       /* MRS */
                d->kind = K_HINT;
                d->writes = BIT((hw2 >> 8) & 0xf);
                return;
            }
            d->kind = K_HINT;                 /* MSR and the rest */
            return;
        }
        if (c & 1) {                          /* B.W (0x1) or BL (1x1) */
            d->kind = K_BRANCH;
            d->writes_pc = 1;
            if (c & 4)
                d->writes = BIT(LR);
            return;
        }
        d->kind = K_UNKNOWN;                  /* UDF.W */
        return;
    }

    /* op1 == 3 */
    if ((hw1 & 0xfe00) == 0xf800) {           /* load/store single */
        unsigned l = (hw1 >> 4) & 1, a = (hw1 >> 7) & 1, size = (hw1 >> 5) & 3;
        unsigned rn = hw1 & 0xf, rt = (hw2 >> 12) & 0xf;
        d->addr_regs = BIT(rn);
        if (rn == PC) {
            d->literal = 1;
            d->addr_regs = 0;
        } else if (!a && (hw2 & 0x0fc0) == 0) { /* register offset */
            d->reg_offset = 1;
            d->addr_regs |= BIT(hw2 & 0xf);
        }
        if (!l) {
            d->kind = K_STORE;
            if (!a && (hw2 & 0x0800) && (hw2 & 0x0100)) /* writeback forms */
                d->writes = BIT(rn);
            return;
        }
        if (rt == PC && size < 2) {           /* PLD / PLI */
            d->kind = K_HINT;
            d->addr_regs = 0;
            return;
        }
        d->kind = K_LOAD;
        d->writes = BIT(rt);
        if (!a && !d->literal && (hw2 & 0x0800) && (hw2 & 0x0100))
            d->writes |= BIT(rn);
        if (rt == PC)
            d->writes_pc = 1;
        /* LDRB.W IP, [Rn, #0] (T3, imm12 = 0) carries a region marker's id */
        if (hw1 == (0xf890 | rn) && hw2 == 0xc000 && rn != PC)
            d->marker_load = 1;
        return;
    }
    if ((hw1 & 0xff00) == 0xfa00) {           /* data processing (register) */
        d->writes = BIT((hw2 >> 8) & 0xf);
        return;
    }
    if ((hw1 & 0xff80) == 0xfb00) {           /* multiply, multiply-accumulate */
        d->kind = K_MUL;
        d->writes = BIT((hw2 >> 8) & 0xf);
        return;
    }
    if ((hw1 & 0xff80) == 0xfb80) {           /* long multiply, divide */
        unsigned op = (hw1 >> 4) & 7;
        if (op == 1 || op == 3) {
            d->kind = K_DIV;
            d->writes = BIT((hw2 >> 8) & 0xf);
        } else {
            d->kind = K_MUL_LONG;
            d->writes = BIT((hw2 >> 12) & 0xf) | BIT((hw2 >> 8) & 0xf);
        }
        return;
    }
    if ((hw1 & 0xec00) == 0xec00) {           /* coprocessor (T2 encodings) */
        decode_vfp(hw1, hw2, d);
        return;
    }
    d->kind = K_UNKNOWN;
}

void thumb_decode(const uint8_t *bytes, unsigned size, insn_info *out)
{
    uint16_t hw1 = (uint16_t)(bytes[0] | (bytes[1] << 8));
    memset(out, 0, sizeof(*out));
    out->kind = K_ALU;
    out->size = (uint8_t)size;
    if (size == 2) {
        decode16(hw1, out);
    } else {
        uint16_t hw2 = (uint16_t)(bytes[2] | (bytes[3] << 8));
        decode32(hw1, hw2, out);
    }
    if (out->writes & BIT(PC))
        out->writes_pc = 1;
    out->writes &= (uint16_t)~BIT(PC);
}
