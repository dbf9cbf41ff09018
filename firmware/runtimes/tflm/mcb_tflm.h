/* Fixed glue between TFLM and the benchmark core, shared by every rendered TFLM workload:
 * a profiler that times each operator with the port's tick counter, a resolver that swaps in
 * mcubench's kernel for an op, and (bare-metal builds) TFLM's DebugLog routed to the
 * protocol as `log` records. */
#ifndef MCB_TFLM_H
#define MCB_TFLM_H

#include <stddef.h>
#include <stdint.h>

#include "tensorflow/lite/micro/micro_op_resolver.h"
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

/* Answers with mcubench's registration for a few builtin ops and asks the model's resolver
 * for everything else (custom ops and parsers included). For ops whose resolver method takes
 * no registration argument in this TFLM generation (AddMean). */
class McbOverridingResolver : public tflite::MicroOpResolver {
 public:
  explicit McbOverridingResolver(const tflite::MicroOpResolver& base) : base_(base) {}
  /* False when the table is full. */
  bool Override(tflite::BuiltinOperator op, const TfLiteRegistration& registration);
  const TfLiteRegistration* FindOp(tflite::BuiltinOperator op) const override;
  const TfLiteRegistration* FindOp(const char* op) const override { return base_.FindOp(op); }
  tflite::TfLiteBridgeBuiltinParseFunction GetOpDataParser(tflite::BuiltinOperator op) const override {
    return base_.GetOpDataParser(op);
  }

 private:
  static constexpr int kMaxOverrides = 4;
  const tflite::MicroOpResolver& base_;
  TfLiteRegistration overrides_[kMaxOverrides] = {};
  int count_ = 0;
};

#endif
