#ifndef CM_SYSTICK_H
#define CM_SYSTICK_H
#include <stdint.h>
void cm_systick_start(void);
uint64_t cm_systick_ticks(void);
#endif
