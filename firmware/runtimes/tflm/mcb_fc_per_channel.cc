/* FULLY_CONNECTED with per-channel quantized weights, for TFLM generations that lack it.
 *
 * Converters since TF 2.16 quantize dense weights per output channel; the TFLM of the Arduino
 * library (2023) reads only the first weight scale, so such a model would run with wrong
 * numbers. The rendered workload registers this kernel instead when the model's dense weights
 * carry more than one scale. Arithmetic: TFLM's own per-channel multipliers
 * (PopulateConvolutionQuantizationParams) and reference_integer_ops::FullyConnectedPerChannel,
 * i.e. what newer TFLM (and the host interpreter) computes. int8 in/out, int32 bias. */
#include "mcb_tflm.h"

#include "tensorflow/lite/c/builtin_op_data.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/fully_connected.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/micro/micro_log.h"

namespace tflite {
namespace {

constexpr int kInput = 0, kWeights = 1, kBias = 2, kOutput = 0;

struct OpDataFcPerChannel {
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t activation_min;
  int32_t activation_max;
  int32_t* multipliers;
  int* shifts;  // written as int32_t by PopulateConvolutionQuantizationParams, then as int (Prepare)
};

// The shifts share one array between the int32_t TFLM computes them in and the int its
// reference arithmetic reads: 8 bytes of arena per channel, as today's TFLM takes.
static_assert(sizeof(int) == sizeof(int32_t), "per-channel shifts are converted in place");

void* Init(TfLiteContext* context, const char*, size_t) {
  return context->AllocatePersistentBuffer(context, sizeof(OpDataFcPerChannel));
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  MicroContext* micro_context = GetMicroContext(context);
  auto* data = static_cast<OpDataFcPerChannel*>(node->user_data);
  const auto* params = static_cast<const TfLiteFullyConnectedParams*>(node->builtin_data);
  // The persistent arrays first, while no temp allocation is live. This TFLM's
  // AllocatePersistentBuffer checks the new tail against the head only, not against the temp
  // allocations above the head: taken while the temp tensors were held, a short arena let
  // these arrays overwrite them, and AllocateTensors hard-faulted later in the memory planner
  // instead of failing (the autoencoder, docs/tflm.md). Taken first, a short arena fails
  // here or in AllocateTemp, and AllocateTensors reports it.
  const TfLiteEvalTensor* weights_eval = micro::GetEvalInput(context, node, kWeights);
  TF_LITE_ENSURE(context, weights_eval != nullptr && weights_eval->dims->size == 2);
  const int channels = weights_eval->dims->data[0];
  auto* multipliers = static_cast<int32_t*>(context->AllocatePersistentBuffer(context, channels * sizeof(int32_t)));
  auto* shifts32 = static_cast<int32_t*>(context->AllocatePersistentBuffer(context, channels * sizeof(int32_t)));
  TF_LITE_ENSURE(context, multipliers != nullptr && shifts32 != nullptr);
  TfLiteTensor* input = micro_context->AllocateTempInputTensor(node, kInput);
  TfLiteTensor* weights = micro_context->AllocateTempInputTensor(node, kWeights);
  TfLiteTensor* bias = micro_context->AllocateTempInputTensor(node, kBias);
  TfLiteTensor* output = micro_context->AllocateTempOutputTensor(node, kOutput);
  TF_LITE_ENSURE(context, input != nullptr && weights != nullptr && output != nullptr);
  if (input->type != kTfLiteInt8 || weights->type != kTfLiteInt8 || output->type != kTfLiteInt8) {
    MicroPrintf("mcubench per-channel FULLY_CONNECTED: int8 only");
    return kTfLiteError;
  }
  int32_t multiplier;
  int shift;
  TF_LITE_ENSURE_STATUS(PopulateConvolutionQuantizationParams(
      context, input, weights, bias, output, params->activation, &multiplier, &shift, &data->activation_min,
      &data->activation_max, multipliers, shifts32, channels));
  // Element by element, each read as int32_t before it is written as int.
  int* shifts = reinterpret_cast<int*>(shifts32);
  for (int i = 0; i < channels; i++) {
    const int32_t value = shifts32[i];
    shifts[i] = static_cast<int>(value);
  }
  data->multipliers = multipliers;
  data->shifts = shifts;
  data->input_zero_point = input->params.zero_point;
  data->output_zero_point = output->params.zero_point;
  micro_context->DeallocateTempTfLiteTensor(input);
  micro_context->DeallocateTempTfLiteTensor(weights);
  if (bias != nullptr) micro_context->DeallocateTempTfLiteTensor(bias);
  micro_context->DeallocateTempTfLiteTensor(output);
  return kTfLiteOk;
}

TfLiteStatus Eval(TfLiteContext* context, TfLiteNode* node) {
  const auto& data = *static_cast<const OpDataFcPerChannel*>(node->user_data);
  const TfLiteEvalTensor* input = micro::GetEvalInput(context, node, kInput);
  const TfLiteEvalTensor* weights = micro::GetEvalInput(context, node, kWeights);
  const TfLiteEvalTensor* bias = micro::GetEvalInput(context, node, kBias);
  TfLiteEvalTensor* output = micro::GetEvalOutput(context, node, kOutput);
  FullyConnectedParams op;
  op.input_offset = -data.input_zero_point;
  op.weights_offset = 0; /* per-channel weights are symmetric */
  op.output_offset = data.output_zero_point;
  op.quantized_activation_min = data.activation_min;
  op.quantized_activation_max = data.activation_max;
  reference_integer_ops::FullyConnectedPerChannel(
      op, data.multipliers, data.shifts, micro::GetTensorShape(input), micro::GetTensorData<int8_t>(input),
      micro::GetTensorShape(weights), micro::GetTensorData<int8_t>(weights), micro::GetTensorShape(bias),
      micro::GetOptionalTensorData<int32_t>(bias), micro::GetTensorShape(output),
      micro::GetTensorData<int8_t>(output));
  return kTfLiteOk;
}

}  // namespace

TfLiteRegistration Register_MCB_FULLY_CONNECTED_PER_CHANNEL() { return micro::RegisterOp(Init, Prepare, Eval); }

}  // namespace tflite
