#include "mcb_tflm.h"

#include <string.h>

#include "mcb_port.h"
#include "mcb_protocol.h"
#include "mcb_region.h"
#include "mcb_workload.h"

uint32_t McbOpProfiler::BeginEvent(const char* tag) {
  (void)tag; /* names come from the model's op list, known at render time */
  const uint32_t handle = static_cast<uint32_t>(next_++);
  /* Operator i is region 0x100 + i for the cycle-estimate plugin (a no-op elsewhere). */
  mcb_region_begin(MCB_REGION_OP_BASE + handle);
  start_ = mcb_ticks();
  return handle;
}

void McbOpProfiler::EndEvent(uint32_t handle) {
  const uint64_t end = mcb_ticks();
  mcb_region_end(MCB_REGION_OP_BASE + handle);
  if (handle < static_cast<uint32_t>(capacity_)) ticks_[handle] = end - start_;
}

bool McbOverridingResolver::Override(tflite::BuiltinOperator op, const TfLiteRegistration& registration) {
  if (count_ == kMaxOverrides) return false;
  overrides_[count_] = registration;
  overrides_[count_].builtin_code = op;
  count_++;
  return true;
}

const TfLiteRegistration* McbOverridingResolver::FindOp(tflite::BuiltinOperator op) const {
  for (int i = 0; i < count_; i++) {
    if (overrides_[i].builtin_code == op) return &overrides_[i];
  }
  return base_.FindOp(op);
}

#ifndef MCB_TFLM_LIBRARY_DEBUGLOG
/* TFLM prints its errors (e.g. "Didn't find op for builtin opcode") through DebugLog in
 * fragments; collect them into lines and send each as a `log` record so the host shows
 * them instead of treating them as noise. The Arduino library's own DebugLog (Serial) is
 * used instead when the library is compiled as a whole (MCB_TFLM_LIBRARY_DEBUGLOG). */
static char log_line[160];
static size_t log_len;

static void flush_log_line(void) {
  if (log_len == 0) return;
  log_line[log_len] = 0;
  mcb_rec_begin("log");
  mcb_rec_str("msg", log_line);
  mcb_rec_end();
  log_len = 0;
}

extern "C" void DebugLog(const char* s) {
  for (; *s; s++) {
    if (*s == '\n' || *s == '\r') {
      flush_log_line();
    } else {
      if (log_len == sizeof log_line - 1) flush_log_line();
      log_line[log_len++] = *s;
    }
  }
}
#endif
