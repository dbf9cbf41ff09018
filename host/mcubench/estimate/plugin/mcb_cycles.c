/* mcubench cycle-estimate plugin for QEMU (TCG plugin API v1, QEMU 7.2).
 *
 * Estimates Cortex-M4 cycles of an emulated run. At translation each Thumb instruction is
 * classified once (thumb_decode.c) and the static cost of the translation block (TB) is
 * summed, applying the rules that only need the instruction stream: load pipelining,
 * address-dependency stalls, IT folding, multi-register transfers, literal loads from flash
 * and the fetch bound set by flash wait states. At execution an inline add counts
 * instructions and static cycles, and one small callback per TB adds what depends on the
 * path taken: a taken branch (the next TB does not start at the fall-through address)
 * costs a pipeline refill. Region markers in the firmware split the figures per region.
 *
 * Arguments: costs=<file> (key value lines written by mcubench.estimate), out=<report.json>.
 * The report is written at exit, atomically; a run that dies leaves no report. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-plugin.h"
#include "thumb_decode.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* ---- cost table (all from the costs file; no defaults here, one source of truth) ---- */
typedef struct {
    const char *name;
    long value;
    int seen;
} cost_entry;

enum {
    C_ALU, C_MUL, C_MUL_LONG, C_DIV, C_LDR, C_LDR_PIPELINED, C_STR, C_STR_REG_OFFSET,
    C_LDRD, C_STRD, C_LDM_BASE, C_STM_BASE, C_PER_REG, C_EXCLUSIVE, C_BRANCH,
    C_TABLE_BRANCH, C_IT, C_IT_FOLDED, C_HINT, C_BARRIER, C_VFP_ALU, C_VFP_MAC, C_VFP_DIV,
    C_VFP_SQRT, C_VLDR, C_VSTR, C_VLDM_BASE, C_VSTM_BASE, C_VMOV_CORE, C_VMOV_CORE2,
    C_UNKNOWN, C_REFILL, C_REFILL_UNALIGNED32, C_ADDR_DEP_STALL, C_FLASH_WAIT_STATES,
    C_CODE_IN_FLASH, C_N
};

static cost_entry costs[C_N] = {
    [C_ALU] = {"alu"}, [C_MUL] = {"mul"}, [C_MUL_LONG] = {"mul_long"}, [C_DIV] = {"div"},
    [C_LDR] = {"ldr"}, [C_LDR_PIPELINED] = {"ldr_pipelined"}, [C_STR] = {"str"},
    [C_STR_REG_OFFSET] = {"str_reg_offset"}, [C_LDRD] = {"ldrd"}, [C_STRD] = {"strd"},
    [C_LDM_BASE] = {"ldm_base"}, [C_STM_BASE] = {"stm_base"}, [C_PER_REG] = {"per_reg"},
    [C_EXCLUSIVE] = {"exclusive"}, [C_BRANCH] = {"branch"},
    [C_TABLE_BRANCH] = {"table_branch"}, [C_IT] = {"it"}, [C_IT_FOLDED] = {"it_folded"},
    [C_HINT] = {"hint"}, [C_BARRIER] = {"barrier"}, [C_VFP_ALU] = {"vfp_alu"},
    [C_VFP_MAC] = {"vfp_mac"}, [C_VFP_DIV] = {"vfp_div"}, [C_VFP_SQRT] = {"vfp_sqrt"},
    [C_VLDR] = {"vldr"}, [C_VSTR] = {"vstr"}, [C_VLDM_BASE] = {"vldm_base"},
    [C_VSTM_BASE] = {"vstm_base"}, [C_VMOV_CORE] = {"vmov_core"},
    [C_VMOV_CORE2] = {"vmov_core2"}, [C_UNKNOWN] = {"unknown"}, [C_REFILL] = {"refill"},
    [C_REFILL_UNALIGNED32] = {"refill_unaligned32"}, [C_ADDR_DEP_STALL] = {"addr_dep_stall"},
    [C_FLASH_WAIT_STATES] = {"flash_wait_states"}, [C_CODE_IN_FLASH] = {"code_in_flash"},
};
#define COST(c) ((uint32_t)costs[c].value)

static char model_version[128] = "?";
static char board_id[128] = "?";
static char out_path[4096];

/* ---- run state (M-profile QEMU runs one vCPU, without MTTCG under icount) ---- */
static uint64_t total_cycles;
static uint64_t total_insns;
static uint64_t branches_taken, branches_not_taken;
static uint64_t tbs_translated;

enum { T_NONE, T_COND, T_ALWAYS };

typedef struct {
    uint64_t vaddr;
    uint64_t fallthrough;
    uint32_t refill_into; /* cycles added when this TB is reached by a taken branch */
    uint8_t term;         /* how the TB ends */
} tb_info;

static const tb_info *prev_tb;

/* ---- regions ---- */
#define MAX_REGION_ID 0xffff
#define STACK_DEPTH 32
typedef struct {
    uint64_t cycles, insns, entries;
} region_stats;
typedef struct {
    uint32_t id;
    uint64_t cycles, insns;
} open_region;
typedef struct {
    uint8_t kind;         /* 1 begin, 2 end */
    uint32_t cost_from;   /* static cycles of the TB from this hint to its end */
    uint32_t insns_from;  /* instructions of the TB from this hint to its end */
    uint64_t load_vaddr;  /* the id's load: the instruction after the 4-byte hint */
} marker_info;

static region_stats *regions;
static open_region stack[STACK_DEPTH];
static int depth;
static uint64_t marker_errors;
static int pending_kind;
static uint64_t pending_cycles, pending_insns, pending_load_vaddr;

/* A Thumb instruction's length, from its first halfword (0b11101, 0b11110 or 0b11111 in the top
 * five bits: 32-bit). QEMU 7.2's Arm translator reads the next instruction's first halfword to
 * see whether it crosses a page, and the plugin API appends those bytes to the current
 * instruction: the last instruction of a block that ends there reports 2 bytes too many (it
 * would decode as unknown, and a region marker's load there would go unseen). */
static size_t thumb_size(const uint8_t *bytes, size_t reported)
{
    if (reported < 2)
        return reported;
    const unsigned hw1 = bytes[0] | (unsigned)bytes[1] << 8;
    const size_t real = (hw1 >> 11) >= 0x1d ? 4 : 2;
    return real <= reported ? real : reported;
}

static void marker_hint_exec(unsigned int vcpu, void *udata)
{
    const marker_info *m = udata;
    (void)vcpu;
    pending_kind = m->kind;
    pending_load_vaddr = m->load_vaddr;
    pending_cycles = total_cycles - m->cost_from;
    pending_insns = total_insns - m->insns_from;
}

static void marker_load_exec(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr,
                             void *udata)
{
    const uint64_t load_vaddr = (uint64_t)(uintptr_t)udata;
    (void)vcpu; (void)info;
    /* an ordinary LDRB.W IP,[Rn] that starts a TB, or one in an interrupt handler taken
     * between a hint and its load: neither carries the pending id */
    if (!pending_kind || load_vaddr != pending_load_vaddr)
        return;
    int kind = pending_kind;
    pending_kind = 0;
    if (vaddr > MAX_REGION_ID) {
        marker_errors++;
        return;
    }
    uint32_t id = (uint32_t)vaddr;
    if (kind == 1) {
        if (depth == STACK_DEPTH) {
            marker_errors++;
            return;
        }
        /* the region starts after the marker pair (hint + load, both free) */
        stack[depth].id = id;
        stack[depth].cycles = pending_cycles;
        stack[depth].insns = pending_insns + 2;
        depth++;
        return;
    }
    /* end: close the innermost region with this id; anything opened inside it and not
     * closed is dropped and counted as a marker error */
    int i = depth - 1;
    while (i >= 0 && stack[i].id != id)
        i--;
    if (i < 0) {
        marker_errors++;
        return;
    }
    marker_errors += (uint64_t)(depth - 1 - i);
    regions[id].cycles += pending_cycles - stack[i].cycles;
    regions[id].insns += pending_insns - stack[i].insns;
    regions[id].entries++;
    depth = i;
}

static void tb_exec(unsigned int vcpu, void *udata)
{
    const tb_info *t = udata;
    (void)vcpu;
    const tb_info *p = prev_tb;
    if (p && p->term != T_NONE) {
        if (p->term == T_ALWAYS || t->vaddr != p->fallthrough) {
            total_cycles += t->refill_into;
            branches_taken++;
        } else {
            branches_not_taken++;
        }
    }
    prev_tb = t;
}

static int is_single_load(const insn_info *d)
{
    return d->kind == K_LOAD && !d->writes_pc;
}

static int is_memory(const insn_info *d)
{
    switch (d->kind) {
    case K_LOAD: case K_STORE: case K_LOAD_DUAL: case K_STORE_DUAL: case K_LDM: case K_STM:
    case K_EXCLUSIVE: case K_VLDR: case K_VSTR: case K_VLDM: case K_VSTM: case K_TABLE_BRANCH:
        return 1;
    default:
        return 0;
    }
}

/* Static cost of one instruction given the previous one in the same TB (NULL at TB start). */
static uint32_t insn_cost(const insn_info *d, const insn_info *prev)
{
    uint32_t c;
    switch (d->kind) {
    case K_ALU: c = COST(C_ALU); break;
    case K_MUL: c = COST(C_MUL); break;
    case K_MUL_LONG: c = COST(C_MUL_LONG); break;
    case K_DIV: c = COST(C_DIV); break;
    case K_LOAD:
        c = COST(C_LDR);
        /* neighbouring loads pipeline unless the address needs the previous load's data */
        if (!d->writes_pc && prev && is_single_load(prev) && !(d->addr_regs & prev->writes))
            c = COST(C_LDR_PIPELINED);
        break;
    case K_STORE: c = d->reg_offset ? COST(C_STR_REG_OFFSET) : COST(C_STR); break;
    case K_LOAD_DUAL: c = COST(C_LDRD); break;
    case K_STORE_DUAL: c = COST(C_STRD); break;
    case K_LDM: c = COST(C_LDM_BASE) + COST(C_PER_REG) * d->nregs; break;
    case K_STM: c = COST(C_STM_BASE) + COST(C_PER_REG) * d->nregs; break;
    case K_EXCLUSIVE: c = COST(C_EXCLUSIVE); break;
    case K_BRANCH: c = COST(C_BRANCH); break;
    case K_TABLE_BRANCH: c = COST(C_TABLE_BRANCH); break;
    case K_IT:
        /* IT folds onto a preceding 16-bit instruction */
        c = (prev && prev->size == 2) ? COST(C_IT_FOLDED) : COST(C_IT);
        break;
    case K_HINT: c = COST(C_HINT); break;
    case K_BARRIER: c = COST(C_BARRIER); break;
    case K_VFP_ALU: c = COST(C_VFP_ALU); break;
    case K_VFP_MAC: c = COST(C_VFP_MAC); break;
    case K_VFP_DIV: c = COST(C_VFP_DIV); break;
    case K_VFP_SQRT: c = COST(C_VFP_SQRT); break;
    case K_VLDR: c = COST(C_VLDR); break;
    case K_VSTR: c = COST(C_VSTR); break;
    case K_VLDM: c = COST(C_VLDM_BASE) + COST(C_PER_REG) * d->nregs; break;
    case K_VSTM: c = COST(C_VSTM_BASE) + COST(C_PER_REG) * d->nregs; break;
    case K_VMOV_CORE: c = COST(C_VMOV_CORE); break;
    case K_VMOV_CORE2: c = COST(C_VMOV_CORE2); break;
    case K_MARKER_HINT: return 0;
    default: c = COST(C_UNKNOWN); break;
    }
    /* an address computed by the immediately preceding ALU/multiply instruction stalls */
    if (is_memory(d) && prev && !is_memory(prev) && (d->addr_regs & prev->writes))
        c += COST(C_ADDR_DEP_STALL);
    /* a literal-pool load reads flash through the D-code bus */
    if (d->literal && COST(C_CODE_IN_FLASH))
        c += COST(C_FLASH_WAIT_STATES);
    return c;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    if (n == 0)
        return;
    tb_info *t = calloc(1, sizeof(*t));
    uint32_t *cost = calloc(n, sizeof(*cost));
    insn_info *info = calloc(n, sizeof(*info));
    uint64_t *insn_end = calloc(n, sizeof(*insn_end));
    uint8_t *is_marker = calloc(n, 1);
    if (!t || !cost || !info || !insn_end || !is_marker) {
        fprintf(stderr, "mcb_cycles: out of memory\n");
        abort();
    }
    tbs_translated++;
    t->vaddr = qemu_plugin_tb_vaddr(tb);

    uint64_t end = t->vaddr;
    unsigned it_left = 0;
    int last_in_it = 0;
    const insn_info *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint8_t *bytes = qemu_plugin_insn_data(insn);
        size_t size = thumb_size(bytes, qemu_plugin_insn_size(insn));
        if (size != 2 && size != 4) {
            memset(&info[i], 0, sizeof(info[i]));
            info[i].kind = K_UNKNOWN;
            info[i].size = (uint8_t)size;
        } else {
            thumb_decode(bytes, (unsigned)size, &info[i]);
        }
        cost[i] = insn_cost(&info[i], prev);
        prev = &info[i];
        /* the load that carries a marker's id is free, like its hint; markers are
         * transparent: the next instruction is costed as if it started the block */
        if (info[i].marker_load && (i == 0 || info[i - 1].kind == K_MARKER_HINT))
            cost[i] = 0, prev = NULL, is_marker[i] = 1;
        if (info[i].kind == K_MARKER_HINT)
            prev = NULL, is_marker[i] = 1;
        last_in_it = it_left > 0;
        if (it_left)
            it_left--;
        if (info[i].kind == K_IT)
            it_left = info[i].it_count;
        end = qemu_plugin_insn_vaddr(insn) + size;
        insn_end[i] = end;
    }

    /* fetch bound: with W wait states each 32-bit fetch takes 1+W cycles, and the
     * prefetch buffer hides them only while execution is slower than fetching. Walk the
     * block: word k (counted from the block's first word, which the branch refill or the
     * fall-through prefetch already paid) arrives at k*(1+W); an instruction starts when
     * the previous one is done and its last halfword has arrived. The stall is charged to
     * the instruction that waits, so region markers split it where it happens. */
    uint32_t w = COST(C_FLASH_WAIT_STATES);
    if (w && COST(C_CODE_IN_FLASH)) {
        uint64_t now = 0, first_word = t->vaddr >> 2;
        for (size_t i = 0; i < n; i++) {
            if (is_marker[i]) {
                /* markers are free and transparent: restart the timeline after them */
                now = 0;
                first_word = insn_end[i] >> 2;
                continue;
            }
            uint64_t ready = ((insn_end[i] - 1) >> 2) - first_word;
            ready *= 1 + w;
            uint32_t stall = ready > now ? (uint32_t)(ready - now) : 0;
            cost[i] += stall;
            now += cost[i];
        }
    }
    uint32_t static_cost = 0;
    for (size_t i = 0; i < n; i++)
        static_cost += cost[i];

    const insn_info *last = &info[n - 1];
    t->fallthrough = end;
    if (last->writes_pc)
        t->term = (last->cond || last_in_it) ? T_COND : T_ALWAYS;
    else
        t->term = T_NONE;
    t->refill_into = COST(C_REFILL) + (COST(C_CODE_IN_FLASH) ? w : 0);
    if (info[0].size == 4 && (t->vaddr & 2))
        t->refill_into += COST(C_REFILL_UNALIGNED32);

    qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS, t);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total_cycles,
                                             static_cost);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total_insns, n);

    /* markers: the hint snapshots the counters, the following LDRB.W IP,[Rn] gives the id */
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        if (info[i].kind == K_MARKER_HINT) {
            marker_info *m = calloc(1, sizeof(*m));
            m->kind = info[i].marker_kind;
            m->insns_from = (uint32_t)(n - i);
            m->load_vaddr = qemu_plugin_insn_vaddr(insn) + 4;
            uint32_t from = 0;
            for (size_t j = i; j < n; j++)
                from += cost[j];
            m->cost_from = from;
            qemu_plugin_register_vcpu_insn_exec_cb(insn, marker_hint_exec,
                                                   QEMU_PLUGIN_CB_NO_REGS, m);
        } else if (info[i].marker_load && (i == 0 || info[i - 1].kind == K_MARKER_HINT)) {
            /* MEM_RW: QEMU 7.2 does not call a MEM_R-only callback for this byte load */
            /* the load's own address rides in the callback's data pointer (32-bit guest) */
            qemu_plugin_register_vcpu_mem_cb(insn, marker_load_exec, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW,
                                             (void *)(uintptr_t)qemu_plugin_insn_vaddr(insn));
        }
    }
    free(cost);
    free(info);
    free(insn_end);
    free(is_marker);
}

static void write_report(qemu_plugin_id_t id, void *udata)
{
    (void)id; (void)udata;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "mcb_cycles: cannot write %s: %s\n", tmp, strerror(errno));
        return;
    }
    fprintf(f, "{\n  \"format\": \"mcubench-cycle-estimate/1\",\n");
    fprintf(f, "  \"model_version\": \"%s\",\n  \"board\": \"%s\",\n", model_version, board_id);
    fprintf(f, "  \"instructions\": %llu,\n  \"cycles\": %llu,\n",
            (unsigned long long)total_insns, (unsigned long long)total_cycles);
    fprintf(f, "  \"branches_taken\": %llu,\n  \"branches_not_taken\": %llu,\n",
            (unsigned long long)branches_taken, (unsigned long long)branches_not_taken);
    fprintf(f, "  \"tbs_translated\": %llu,\n  \"marker_errors\": %llu,\n",
            (unsigned long long)tbs_translated, (unsigned long long)marker_errors);
    fprintf(f, "  \"open_regions\": [");
    for (int i = 0; i < depth; i++)
        fprintf(f, "%s%u", i ? ", " : "", stack[i].id);
    fprintf(f, "],\n  \"regions\": [");
    int first = 1;
    for (uint32_t r = 0; r <= MAX_REGION_ID; r++) {
        if (!regions[r].entries)
            continue;
        fprintf(f, "%s\n    {\"id\": %u, \"entries\": %llu, \"cycles\": %llu, \"instructions\": %llu}",
                first ? "" : ",", r, (unsigned long long)regions[r].entries,
                (unsigned long long)regions[r].cycles, (unsigned long long)regions[r].insns);
        first = 0;
    }
    fprintf(f, "%s],\n  \"complete\": true\n}\n", first ? "" : "\n  ");
    if (fflush(f) != 0 || fclose(f) != 0 || rename(tmp, out_path) != 0)
        fprintf(stderr, "mcb_cycles: cannot write %s: %s\n", out_path, strerror(errno));
}

static int load_costs(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "mcb_cycles: cannot read costs file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char key[128], val[128];
    while (fscanf(f, "%127s %127s", key, val) == 2) {
        if (!strcmp(key, "model_version")) {
            snprintf(model_version, sizeof(model_version), "%s", val);
            continue;
        }
        if (!strcmp(key, "board")) {
            snprintf(board_id, sizeof(board_id), "%s", val);
            continue;
        }
        int found = 0;
        for (int i = 0; i < C_N; i++) {
            if (!strcmp(key, costs[i].name)) {
                char *endp;
                costs[i].value = strtol(val, &endp, 10);
                if (*endp || costs[i].value < 0 || costs[i].value > 1000) {
                    fprintf(stderr, "mcb_cycles: bad value for %s: %s\n", key, val);
                    fclose(f);
                    return -1;
                }
                costs[i].seen = 1;
                found = 1;
            }
        }
        if (!found) {
            fprintf(stderr, "mcb_cycles: unknown cost key %s\n", key);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    for (int i = 0; i < C_N; i++) {
        if (!costs[i].seen) {
            fprintf(stderr, "mcb_cycles: costs file lacks %s\n", costs[i].name);
            return -1;
        }
    }
    return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    const char *costs_path = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "costs=", 6))
            costs_path = argv[i] + 6;
        else if (!strncmp(argv[i], "out=", 4))
            snprintf(out_path, sizeof(out_path), "%s", argv[i] + 4);
        else {
            fprintf(stderr, "mcb_cycles: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    if (!costs_path || !out_path[0]) {
        fprintf(stderr, "mcb_cycles: needs costs=<file> and out=<report.json>\n");
        return -1;
    }
    if (info && info->target_name && strcmp(info->target_name, "arm") != 0) {
        fprintf(stderr, "mcb_cycles: only the arm target is supported, not %s\n",
                info->target_name);
        return -1;
    }
    if (load_costs(costs_path) != 0)
        return -1;
    regions = calloc(MAX_REGION_ID + 1, sizeof(*regions));
    if (!regions)
        return -1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, write_report, NULL);
    return 0;
}
