/* nRF52840 NVMC instruction cache (nRF52840 Product Specification v1.7, NVMC registers):
 * ICACHECNF at 0x4001E540, bit 0 CACHEEN, reset value 0 (cache off). Whether the cache is on
 * changes what every flash-resident instruction costs, so the ports report it in `hello`. */
#ifndef NRF52840_NVMC_H
#define NRF52840_NVMC_H
#include <stdint.h>

#define NRF52840_NVMC_ICACHECNF (*(volatile uint32_t *)0x4001E540u)
#define NRF52840_ICACHECNF_CACHEEN 1u

/* Built with MCB_ICACHE_ENABLE=1 (the AOT runtime's `--icache on`), the ports turn the cache
 * on at start-up, before anything is timed; `hello` then reports icache=on. */
static inline void nrf52840_icache_configure(void) {
#if defined(MCB_ICACHE_ENABLE) && MCB_ICACHE_ENABLE
    NRF52840_NVMC_ICACHECNF |= NRF52840_ICACHECNF_CACHEEN;
#endif
}

static inline const char *nrf52840_icache_state(void) {
    return (NRF52840_NVMC_ICACHECNF & NRF52840_ICACHECNF_CACHEEN) ? "on" : "off";
}
#endif
