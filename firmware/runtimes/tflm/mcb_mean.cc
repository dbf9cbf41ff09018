/* MEAN on int8/int16 with today's TFLM arithmetic, for TFLM generations that lack it.
 *
 * The TFLM of the Arduino library (2023) averages quantized tensors in two older ways: when
 * input and output share scale and zero point it divides the integer sum by the count,
 * truncating toward zero; otherwise it rescales in float. Newer TFLM (and the host
 * interpreter the outputs are compared with) folds 1/count into the fixed-point multiplier
 * and rounds once (reference_ops::QuantizedMeanOrSum). A global average pool exported from
 * PyTorch or ONNX is such a MEAN, and the two disagree by one or two steps in the last layer.
 * The rendered workload registers this kernel for MEAN when the model has an integer MEAN.
 * Prepare and float32 Eval are the library's own (reduce_common); only the integer Eval
 * differs. */
#include <stdint.h>

#include <algorithm>
#include <limits>

#include "mcb_tflm.h"

#include "tensorflow/lite/c/builtin_op_data.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/kernels/internal/common.h"
#include "tensorflow/lite/kernels/internal/reference/reduce.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/reduce.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_utils.h"

namespace tflite {
namespace {

constexpr int kMaxDims = 4;

void* Init(TfLiteContext* context, const char*, size_t) {
  return context->AllocatePersistentBuffer(context, sizeof(OpDataReduce));
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  MicroContext* micro_context = GetMicroContext(context);
  TfLiteTensor* axis = micro_context->AllocateTempInputTensor(node, 1);
  TF_LITE_ENSURE(context, axis != nullptr);
  const bool axes_fit = ElementCount(*axis->dims) <= kMaxDims;
  micro_context->DeallocateTempTfLiteTensor(axis);
  TF_LITE_ENSURE_MSG(context, axes_fit, "mcubench MEAN: at most 4 axes");
  /* The library's Prepare: multiplier = input_scale / output_scale, zero points, a scratch
   * buffer of one int32 per output element. */
  return PrepareMeanOrSumHelper(context, node, static_cast<OpDataReduce*>(node->user_data));
}

template <typename T>
TfLiteStatus EvalIntegerMean(TfLiteContext* context, TfLiteNode* node, const OpDataReduce& data) {
  const TfLiteEvalTensor* input = micro::GetEvalInput(context, node, 0);
  const TfLiteEvalTensor* axis = micro::GetEvalInput(context, node, 1);
  TfLiteEvalTensor* output = micro::GetEvalOutput(context, node, 0);
  int32_t* sums = static_cast<int32_t*>(context->GetScratchBuffer(context, data.temp_buffer_idx));
  const int outputs = static_cast<int>(ElementCount(*output->dims));
  for (int i = 0; i < outputs; ++i) sums[i] = 0;

  int iterator[kMaxDims];
  int resolved[kMaxDims];
  int resolved_count = 0;
  TF_LITE_ENSURE(context, input->dims->size <= kMaxDims);
  TF_LITE_ENSURE(context, reference_ops::ResolveAxis(input->dims->size, micro::GetTensorData<int>(axis),
                                                     ElementCount(*axis->dims), resolved, &resolved_count));
  TF_LITE_ENSURE(context, (reference_ops::ReduceSumImpl<T, int32_t>(
                              micro::GetTensorData<T>(input), input->dims->data, output->dims->data,
                              input->dims->size, output->dims->size, resolved, resolved_count, iterator, sums)));
  int64_t count = 1;
  for (int i = 0; i < resolved_count; ++i) count *= input->dims->data[resolved[i]];
  if (count <= 0) return kTfLiteOk;

  /* 1/count folded into the multiplier, keeping the shift within what
   * MultiplyByQuantizedMultiplier accepts (as newer TFLM does). */
  int fold = 0; /* floor(log2(count)); this library's CountLeadingZeros is 32-bit only */
  while ((count >> (fold + 1)) != 0) fold++;
  fold = std::min(fold, 32);
  fold = std::min(fold, 31 + data.shift);
  const int32_t multiplier = static_cast<int32_t>((static_cast<int64_t>(data.multiplier) << fold) / count);
  const int shift = data.shift - fold;

  T* out = micro::GetTensorData<T>(output);
  for (int i = 0; i < outputs; ++i) {
    const int32_t centred = static_cast<int32_t>(sums[i] - data.input_zp * count);
    int32_t value = MultiplyByQuantizedMultiplier(centred, multiplier, shift) + data.output_zp;
    value = std::min<int32_t>(std::max<int32_t>(value, std::numeric_limits<T>::min()), std::numeric_limits<T>::max());
    out[i] = static_cast<T>(value);
  }
  return kTfLiteOk;
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  auto* data = static_cast<OpDataReduce*>(node->user_data);
  switch (micro::GetEvalInput(context, node, 0)->type) {
    case kTfLiteInt8:
      return EvalIntegerMean<int8_t>(context, node, *data);
    case kTfLiteInt16:
      return EvalIntegerMean<int16_t>(context, node, *data);
    default:
      return EvalMeanHelper(context, node, data);
  }
}

}  // namespace

TfLiteRegistration Register_MCB_MEAN() { return micro::RegisterOp(Init, Prepare, Eval); }

}  // namespace tflite
