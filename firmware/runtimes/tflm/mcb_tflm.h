/* Fixed glue between TFLM and the benchmark core, shared by every rendered TFLM workload:
 * a profiler that times each operator with the port's tick counter, and (bare-metal
 * builds) TFLM's DebugLog routed to the protocol as `log` records. */
#ifndef MCB_TFLM_H
#define MCB_TFLM_H

#include <stddef.h>
#include <stdint.h>

#include "tensorflow/lite/micro/micro_profiler_interface.h"

/* Records the ticks of each operator of one Invoke(): TFLM calls BeginEvent/EndEvent once per
 * operator, in execution order. Events beyond `capacity` are counted but not stored, and
 * begin_run() resets the cursor so each run fills the slots again. */
class McbOpProfiler : public tflite::MicroProfilerInterface {
 public:
  McbOpProfiler(uint64_t* ticks, int capacity) : ticks_(ticks), capacity_(capacity) {}
  uint32_t BeginEvent(const char* tag) override;
  void EndEvent(uint32_t event_handle) override;
  void begin_run() { next_ = 0; }
  /* Events seen in the last run (equals the operator count when every op was timed). */
  int events() const { return next_; }

 private:
  uint64_t* ticks_;
  int capacity_;
  int next_ = 0;
  uint64_t start_ = 0;
};

#endif
