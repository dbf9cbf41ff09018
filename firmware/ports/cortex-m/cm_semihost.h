/* Arm semihosting SYS_EXIT: ends a QEMU run (started with -semihosting) with a status. */
#ifndef CM_SEMIHOST_H
#define CM_SEMIHOST_H
#include <stdint.h>

static inline void cm_semihost_exit(int status) {
    /* AArch32 SYS_EXIT takes only a reason: ApplicationExit (status 0) or RunTimeErrorUnknown. */
    uint32_t reason = status == 0 ? 0x20026u : 0x20023u;
    register uint32_t r0 __asm("r0") = 0x18u;
    register uint32_t r1 __asm("r1") = reason;
    __asm volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
}
#endif
