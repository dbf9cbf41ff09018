/* The portable benchmark core: boot, identify, set up the workload, run W warm-up + N timed
 * invocations, report, then serve host commands. Everything here is board-independent; the
 * board lives behind mcb_port.h. */
#include <string.h>

#include "mcb_port.h"
#include "mcb_protocol.h"
#include "mcb_region.h"
#include "mcb_workload.h"

#ifdef MCB_HAVE_BUILD_INFO
#include "mcb_build_info.h"
#endif

#ifndef MCB_TOOL_VERSION
#define MCB_TOOL_VERSION "unknown"
#endif
#ifndef MCB_GIT
#define MCB_GIT "unknown"
#endif
#ifndef MCB_BUILD_ID
#define MCB_BUILD_ID "unknown"
#endif
#ifndef MCB_BOARD
#error "MCB_BOARD must name the board (set by the build)"
#endif
#ifndef MCB_PORT
#error "MCB_PORT must name the port layer (set by the build)"
#endif
#ifndef MCB_CFLAGS
#define MCB_CFLAGS "unknown"
#endif
#ifndef MCB_WARMUP
#define MCB_WARMUP 1
#endif
#ifndef MCB_RUNS
#define MCB_RUNS 5
#endif
#ifndef MCB_AUTORUN
#define MCB_AUTORUN 1
#endif
#ifndef MCB_MAX_OPS
#define MCB_MAX_OPS 256
#endif
#define MCB_MAX_RUNS 1000

#define STACK_PAINT 0xA5A5A5A5u
/* Bytes below the current stack pointer left unpainted when painting (this frame's callees). */
#define STACK_PAINT_GUARD 256u

static uint64_t op_ticks_sum[MCB_MAX_OPS];
static int workload_ready;

uint64_t mcb_ticks(void) { return mcb_port_ticks(); }

static void paint_stack(void) {
    uint32_t marker;
    uintptr_t limit = ((uintptr_t)&marker - STACK_PAINT_GUARD) & ~(uintptr_t)3u;
    for (uint32_t *p = &__mcb_stack_bottom; (uintptr_t)p < limit; p++) *p = STACK_PAINT;
}

static uint32_t stack_used(void) {
    const uint32_t *p = &__mcb_stack_bottom;
    while (p < &__mcb_stack_top && *p == STACK_PAINT) p++;
    return (uint32_t)((uintptr_t)&__mcb_stack_top - (uintptr_t)p);
}

static uint32_t stack_size(void) {
    return (uint32_t)((uintptr_t)&__mcb_stack_top - (uintptr_t)&__mcb_stack_bottom);
}

static void send_hello(void) {
    mcb_rec_begin("hello");
    mcb_rec_str("tool", MCB_TOOL_VERSION);
    mcb_rec_str("git", MCB_GIT);
    mcb_rec_str("build", MCB_BUILD_ID);
    mcb_rec_str("board", MCB_BOARD);
    mcb_rec_str("port", MCB_PORT);
    mcb_rec_u64("clock_hz", mcb_port_clock_hz());
    mcb_rec_u64("tick_hz", mcb_port_tick_hz());
    mcb_rec_str("tick_unit", mcb_port_tick_unit());
    mcb_rec_str("runtime", mcb_workload.runtime);
    mcb_rec_str("workload", mcb_workload.name);
    mcb_port_hello_fields();
    mcb_rec_end();
    /* Compiler identity gets its own record: flags can be long. */
    mcb_rec_begin("build");
    mcb_rec_str("cc", "gcc-" __VERSION__);
    mcb_rec_str("cflags", MCB_CFLAGS);
    mcb_rec_end();
}

static void send_output(void) {
    if (!mcb_workload.output) return;
    size_t len = 0;
    const uint8_t *out = mcb_workload.output(&len);
    if (!out) return;
    char crc_hex[9];
    uint32_t crc = mcb_crc32(0, out, len);
    for (int i = 0; i < 8; i++) crc_hex[i] = "0123456789ABCDEF"[(crc >> (28 - 4 * i)) & 15];
    crc_hex[8] = 0;
    mcb_rec_begin("out");
    mcb_rec_u64("len", len);
    mcb_rec_str("crc32", crc_hex);
    mcb_rec_end();
    for (size_t off = 0; off < len; off += MCB_OUT_CHUNK) {
        size_t n = len - off < MCB_OUT_CHUNK ? len - off : MCB_OUT_CHUNK;
        mcb_rec_begin("outd");
        mcb_rec_u64("off", off);
        mcb_rec_hex("hex", out + off, n);
        mcb_rec_end();
    }
}

static void send_cfg(uint32_t warmup, uint32_t runs) {
    mcb_rec_begin("cfg");
    mcb_rec_u64("warmup", warmup);
    mcb_rec_u64("runs", runs);
    /* Workload parameters "k=v k=v" become p_k=v fields. */
    const char *p = mcb_workload.params;
    while (p && *p) {
        char key[24] = "p_";
        char val[48];
        size_t k = 2, v = 0;
        while (*p == ' ') p++;
        while (*p && *p != '=' && *p != ' ' && k < sizeof key - 1) key[k++] = *p++;
        key[k] = 0;
        if (*p == '=') p++;
        while (*p && *p != ' ' && v < sizeof val - 1) val[v++] = *p++;
        val[v] = 0;
        while (*p && *p != ' ') p++; /* skip what did not fit */
        if (k > 2) mcb_rec_str(key, val);
    }
    mcb_rec_end();
}

static int run_benchmark(uint32_t warmup, uint32_t runs) {
    if (!workload_ready) {
        mcb_send_err("setup", "workload is not set up");
        return 0;
    }
    if (runs == 0 || runs > MCB_MAX_RUNS || warmup > MCB_MAX_RUNS) {
        mcb_send_err("cmd", "runs must be 1..1000 and warmup 0..1000");
        return 0;
    }
    int nops = mcb_workload.op_count ? mcb_workload.op_count() : 0;
    if (nops > MCB_MAX_OPS) {
        mcb_send_err("setup", "more operators than MCB_MAX_OPS; rebuild with a larger MCB_MAX_OPS");
        return 0;
    }
    memset(op_ticks_sum, 0, sizeof op_ticks_sum);
    send_cfg(warmup, runs);
    for (uint32_t i = 0; i < warmup; i++) {
        if (mcb_workload.run() != 0) {
            mcb_send_err("run", "workload run failed during warm-up");
            return 0;
        }
    }
    for (uint32_t i = 0; i < runs; i++) {
        uint64_t t0 = mcb_port_ticks();
        mcb_region_begin(MCB_REGION_TIMED);
        int rc = mcb_workload.run();
        mcb_region_end(MCB_REGION_TIMED);
        uint64_t t1 = mcb_port_ticks();
        if (rc != 0) {
            mcb_send_err("run", "workload run failed");
            return 0;
        }
        for (int k = 0; k < nops; k++) op_ticks_sum[k] += mcb_workload.op_ticks(k);
        mcb_rec_begin("run");
        mcb_rec_u64("i", i);
        mcb_rec_u64("ticks", t1 - t0);
        mcb_rec_end();
    }
    for (int k = 0; k < nops; k++) {
        mcb_rec_begin("op");
        mcb_rec_u64("idx", (uint64_t)k);
        mcb_rec_str("name", mcb_workload.op_name(k));
        mcb_rec_u64("ticks", op_ticks_sum[k]);
        mcb_rec_u64("runs", runs);
        mcb_rec_end();
    }
    mcb_rec_begin("mem");
    mcb_rec_u64("stack_used", stack_used());
    mcb_rec_u64("stack_size", stack_size());
    if (mcb_workload.arena_used) mcb_rec_u64("arena_used", mcb_workload.arena_used());
    if (mcb_workload.arena_size) mcb_rec_u64("arena_size", mcb_workload.arena_size());
    mcb_rec_end();
    send_output();
    return 1;
}

static void handle_command(void) {
    const char *name = mcb_cmd_get("name");
    int ok = 1;
    if (!name) {
        mcb_send_err("cmd", "command without name");
        ok = 0;
    } else if (strcmp(name, "info") == 0) {
        send_hello();
    } else if (strcmp(name, "bench") == 0) {
        uint32_t warmup = MCB_WARMUP, runs = MCB_RUNS;
        if (mcb_cmd_get("warmup") && mcb_cmd_get_u32("warmup", &warmup) != 0) ok = 0;
        if (mcb_cmd_get("runs") && mcb_cmd_get_u32("runs", &runs) != 0) ok = 0;
        if (!ok) mcb_send_err("cmd", "warmup/runs must be decimal numbers");
        else ok = run_benchmark(warmup, runs);
    } else if (strcmp(name, "input") == 0) {
        size_t cap = 0;
        uint8_t *in = mcb_workload.input ? mcb_workload.input(&cap) : NULL;
        uint32_t off = 0;
        if (!in) {
            mcb_send_err("cmd", "this workload takes no input");
            ok = 0;
        } else if (mcb_cmd_get_u32("off", &off) != 0 || off > cap) {
            mcb_send_err("cmd", "input offset missing or past the input tensor");
            ok = 0;
        } else if (mcb_cmd_get_hex("hex", in + off, cap - off) < 0) {
            mcb_send_err("cmd", "input hex missing, malformed or past the input tensor");
            ok = 0;
        }
    } else if (strcmp(name, "invoke") == 0) {
        if (!workload_ready || mcb_workload.run() != 0) {
            mcb_send_err("run", "workload run failed");
            ok = 0;
        } else {
            send_output();
        }
    } else if (strcmp(name, "exit") == 0) {
        uint32_t status = 0;
        mcb_cmd_get_u32("status", &status);
        mcb_send_done(1);
        mcb_port_exit((int)status);
    } else {
        mcb_send_err("cmd", "unknown command");
        ok = 0;
    }
    mcb_send_done(ok);
}

void mcb_main(void) {
    mcb_port_init();
    paint_stack();
    send_hello();
    mcb_region_begin(MCB_REGION_SETUP);
    int setup_rc = mcb_workload.setup ? mcb_workload.setup() : 0;
    mcb_region_end(MCB_REGION_SETUP);
    if (setup_rc != 0) {
        mcb_send_err("setup", "workload setup failed");
        mcb_send_done(0);
    } else {
        workload_ready = 1;
        if (MCB_AUTORUN) mcb_send_done(run_benchmark(MCB_WARMUP, MCB_RUNS));
    }
    for (;;) {
        mcb_rec_begin("ready");
        mcb_rec_end();
        int byte;
        do {
            byte = mcb_port_read_byte();
        } while (!mcb_cmd_feed(byte));
        handle_command();
    }
}
