/* What the benchmark core runs. A runtime (built-in workload, TFLM, AOT) defines exactly
 * one `mcb_workload` in the image. setup() does all allocation and checks; run() is the
 * timed body and must stay lean. */
#ifndef MCB_WORKLOAD_H
#define MCB_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcb_workload {
    const char *name;      /* e.g. "dot_int8", "tflm:digits_int8", "aot:kws" */
    const char *runtime;   /* "builtin", "tflm", "aot" */
    /* 0 on success; otherwise an error code reported in an `err` record. */
    int (*setup)(void);
    /* One timed invocation; 0 on success. */
    int (*run)(void);
    /* Optional (may be NULL): bytes of the input tensor, to be overwritten by the host. */
    uint8_t *(*input)(size_t *len);
    /* Optional (may be NULL): bytes of the output tensor after run(). */
    const uint8_t *(*output)(size_t *len);
    /* Optional (may be NULL): number of operators for per-op profiling, their names,
     * and the ticks each took in the last run(). */
    int (*op_count)(void);
    const char *(*op_name)(int index);
    uint64_t (*op_ticks)(int index);
    /* Optional (may be NULL): runtime memory figures in bytes (e.g. TFLM arena). */
    size_t (*arena_used)(void);
    size_t (*arena_size)(void);
    /* Optional (may be NULL): workload parameters as "key=value key=value", reported in the
     * `cfg` record as p_<key>=<value>. */
    const char *params;
} mcb_workload_t;

extern const mcb_workload_t mcb_workload;

/* The benchmark core's entry point: never returns. Bare-metal startup calls it from main();
 * the Arduino port calls it from setup(). */
void mcb_main(void) __attribute__((noreturn));

/* Provided by the core for runtimes that time their operators themselves. */
uint64_t mcb_ticks(void);

#ifdef __cplusplus
}
#endif
#endif
