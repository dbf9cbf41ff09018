/* Reference-kernel registrations for the ops the TFLM Arduino library ships only as CMSIS-NN
 * wrappers (conv, depthwise conv, fully connected, pooling, softmax, add, mul). They reuse the
 * library's own Prepare/OpData code (*_common.cpp) and its portable reference kernels
 * (tensorflow/lite/kernels/internal/reference/), so a `--cmsis-nn off` build runs TFLM's
 * reference arithmetic. Compiled only into reference builds (mcubench --cmsis-nn off).
 * Types: int8 (per-channel quantized) and float32; anything else fails at Prepare. */
#include "tensorflow/lite/c/builtin_op_data.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/kernels/internal/reference/add.h"
#include "tensorflow/lite/kernels/internal/reference/conv.h"
#include "tensorflow/lite/kernels/internal/reference/depthwiseconv_float.h"
#include "tensorflow/lite/kernels/internal/reference/fully_connected.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/add.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/conv.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/depthwise_conv.h"
#include "tensorflow/lite/kernels/internal/reference/integer_ops/fully_connected.h"
#include "tensorflow/lite/kernels/internal/reference/process_broadcast_shapes.h"
#include "tensorflow/lite/kernels/internal/reference/softmax.h"
#include "tensorflow/lite/micro/kernels/add.h"
#include "tensorflow/lite/micro/kernels/conv.h"
#include "tensorflow/lite/micro/kernels/depthwise_conv.h"
#include "tensorflow/lite/micro/kernels/fully_connected.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/kernels/mul.h"
#include "tensorflow/lite/micro/kernels/pooling.h"
#include "tensorflow/lite/micro/kernels/softmax.h"
#include "tensorflow/lite/micro/micro_context.h"

namespace tflite {
namespace {

using micro::GetEvalInput;
using micro::GetEvalOutput;
using micro::GetOptionalTensorData;
using micro::GetTensorData;
using micro::GetTensorShape;

template <typename T>
void* InitOpData(TfLiteContext* context, const char*, size_t) {
  return context->AllocatePersistentBuffer(context, sizeof(T));
}

/* ---- CONV_2D ---- */
TfLiteStatus ConvEval(TfLiteContext* context, TfLiteNode* node) {
  const auto& params = *static_cast<const TfLiteConvParams*>(node->builtin_data);
  const auto& data = *static_cast<const OpDataConv*>(node->user_data);
  const TfLiteEvalTensor* input = GetEvalInput(context, node, kConvInputTensor);
  const TfLiteEvalTensor* filter = GetEvalInput(context, node, kConvWeightsTensor);
  const TfLiteEvalTensor* bias = node->inputs->size == 3 ? GetEvalInput(context, node, kConvBiasTensor) : nullptr;
  TfLiteEvalTensor* output = GetEvalOutput(context, node, kConvOutputTensor);
  if (input->type == kTfLiteInt8 && filter->type == kTfLiteInt8) {
    reference_integer_ops::ConvPerChannel(
        ConvParamsQuantized(params, data), data.per_channel_output_multiplier, data.per_channel_output_shift,
        GetTensorShape(input), GetTensorData<int8_t>(input), GetTensorShape(filter), GetTensorData<int8_t>(filter),
        GetTensorShape(bias), GetOptionalTensorData<int32_t>(bias), GetTensorShape(output),
        GetTensorData<int8_t>(output));
    return kTfLiteOk;
  }
  if (input->type == kTfLiteFloat32) {
    reference_ops::Conv(ConvParamsFloat(params, data), GetTensorShape(input), GetTensorData<float>(input),
                        GetTensorShape(filter), GetTensorData<float>(filter), GetTensorShape(bias),
                        GetOptionalTensorData<float>(bias), GetTensorShape(output), GetTensorData<float>(output),
                        RuntimeShape(), nullptr);
    return kTfLiteOk;
  }
  MicroPrintf("mcubench reference CONV_2D: type %s not supported", TfLiteTypeGetName(input->type));
  return kTfLiteError;
}

/* ---- DEPTHWISE_CONV_2D ---- */
TfLiteStatus DepthwiseEval(TfLiteContext* context, TfLiteNode* node) {
  const auto& params = *static_cast<const TfLiteDepthwiseConvParams*>(node->builtin_data);
  const auto& data = *static_cast<const OpDataConv*>(node->user_data);
  const TfLiteEvalTensor* input = GetEvalInput(context, node, kDepthwiseConvInputTensor);
  const TfLiteEvalTensor* filter = GetEvalInput(context, node, kDepthwiseConvWeightsTensor);
  const TfLiteEvalTensor* bias =
      node->inputs->size == 3 ? GetEvalInput(context, node, kDepthwiseConvBiasTensor) : nullptr;
  TfLiteEvalTensor* output = GetEvalOutput(context, node, kDepthwiseConvOutputTensor);
  if (input->type == kTfLiteInt8 && filter->type == kTfLiteInt8) {
    reference_integer_ops::DepthwiseConvPerChannel(
        DepthwiseConvParamsQuantized(params, data), data.per_channel_output_multiplier,
        data.per_channel_output_shift, GetTensorShape(input), GetTensorData<int8_t>(input), GetTensorShape(filter),
        GetTensorData<int8_t>(filter), GetTensorShape(bias), GetOptionalTensorData<int32_t>(bias),
        GetTensorShape(output), GetTensorData<int8_t>(output));
    return kTfLiteOk;
  }
  if (input->type == kTfLiteFloat32) {
    reference_ops::DepthwiseConv(DepthwiseConvParamsFloat(params, data), GetTensorShape(input),
                                 GetTensorData<float>(input), GetTensorShape(filter), GetTensorData<float>(filter),
                                 GetTensorShape(bias), GetOptionalTensorData<float>(bias), GetTensorShape(output),
                                 GetTensorData<float>(output));
    return kTfLiteOk;
  }
  MicroPrintf("mcubench reference DEPTHWISE_CONV_2D: type %s not supported", TfLiteTypeGetName(input->type));
  return kTfLiteError;
}

/* ---- FULLY_CONNECTED ---- */
TfLiteStatus FullyConnectedPrepare(TfLiteContext* context, TfLiteNode* node) {
  MicroContext* micro_context = GetMicroContext(context);
  auto* data = static_cast<OpDataFullyConnected*>(node->user_data);
  const auto* params = static_cast<const TfLiteFullyConnectedParams*>(node->builtin_data);
  TfLiteTensor* input = micro_context->AllocateTempInputTensor(node, kFullyConnectedInputTensor);
  TfLiteTensor* filter = micro_context->AllocateTempInputTensor(node, kFullyConnectedWeightsTensor);
  TfLiteTensor* bias = micro_context->AllocateTempInputTensor(node, kFullyConnectedBiasTensor);
  TfLiteTensor* output = micro_context->AllocateTempOutputTensor(node, kFullyConnectedOutputTensor);
  TF_LITE_ENSURE(context, input != nullptr && filter != nullptr && output != nullptr);
  TF_LITE_ENSURE_STATUS(CalculateOpDataFullyConnected(context, params->activation, input->type, input, filter,
                                                      bias, output, data));
  micro_context->DeallocateTempTfLiteTensor(input);
  micro_context->DeallocateTempTfLiteTensor(filter);
  if (bias != nullptr) micro_context->DeallocateTempTfLiteTensor(bias);
  micro_context->DeallocateTempTfLiteTensor(output);
  return kTfLiteOk;
}

TfLiteStatus FullyConnectedEval(TfLiteContext* context, TfLiteNode* node) {
  const auto* params = static_cast<const TfLiteFullyConnectedParams*>(node->builtin_data);
  const auto& data = *static_cast<const OpDataFullyConnected*>(node->user_data);
  const TfLiteEvalTensor* input = GetEvalInput(context, node, kFullyConnectedInputTensor);
  const TfLiteEvalTensor* filter = GetEvalInput(context, node, kFullyConnectedWeightsTensor);
  const TfLiteEvalTensor* bias = GetEvalInput(context, node, kFullyConnectedBiasTensor);
  TfLiteEvalTensor* output = GetEvalOutput(context, node, kFullyConnectedOutputTensor);
  if (input->type == kTfLiteInt8 && filter->type == kTfLiteInt8) {
    reference_integer_ops::FullyConnected(
        FullyConnectedParamsQuantized(data), GetTensorShape(input), GetTensorData<int8_t>(input),
        GetTensorShape(filter), GetTensorData<int8_t>(filter), GetTensorShape(bias),
        GetOptionalTensorData<int32_t>(bias), GetTensorShape(output), GetTensorData<int8_t>(output));
    return kTfLiteOk;
  }
  if (input->type == kTfLiteFloat32) {
    reference_ops::FullyConnected(FullyConnectedParamsFloat(params->activation), GetTensorShape(input),
                                  GetTensorData<float>(input), GetTensorShape(filter), GetTensorData<float>(filter),
                                  GetTensorShape(bias), GetOptionalTensorData<float>(bias), GetTensorShape(output),
                                  GetTensorData<float>(output));
    return kTfLiteOk;
  }
  MicroPrintf("mcubench reference FULLY_CONNECTED: type %s not supported", TfLiteTypeGetName(input->type));
  return kTfLiteError;
}

/* ---- AVERAGE_POOL_2D / MAX_POOL_2D ---- */
TfLiteStatus AveragePoolEval(TfLiteContext* context, TfLiteNode* node) {
  auto* params = static_cast<TfLitePoolParams*>(node->builtin_data);
  const auto* data = static_cast<const OpDataPooling*>(node->user_data);
  const TfLiteEvalTensor* input = GetEvalInput(context, node, kPoolingInputTensor);
  TfLiteEvalTensor* output = GetEvalOutput(context, node, kPoolingOutputTensor);
  if (input->type == kTfLiteInt8) {
    AveragePoolingEvalQuantized<int8_t>(context, node, params, data, input, output);
  } else if (input->type == kTfLiteFloat32) {
    AveragePoolingEvalFloat(context, node, params, data, input, output);
  } else {
    return kTfLiteError;
  }
  return kTfLiteOk;
}

TfLiteStatus MaxPoolEval(TfLiteContext* context, TfLiteNode* node) {
  auto* params = static_cast<TfLitePoolParams*>(node->builtin_data);
  const auto* data = static_cast<const OpDataPooling*>(node->user_data);
  const TfLiteEvalTensor* input = GetEvalInput(context, node, kPoolingInputTensor);
  TfLiteEvalTensor* output = GetEvalOutput(context, node, kPoolingOutputTensor);
  if (input->type == kTfLiteInt8) {
    MaxPoolingEvalQuantized<int8_t>(context, node, params, data, input, output);
  } else if (input->type == kTfLiteFloat32) {
    MaxPoolingEvalFloat(context, node, params, data, input, output);
  } else {
    return kTfLiteError;
  }
  return kTfLiteOk;
}

/* ---- SOFTMAX ---- */
TfLiteStatus SoftmaxEval(TfLiteContext* context, TfLiteNode* node) {
  const TfLiteEvalTensor* input = GetEvalInput(context, node, 0);
  TfLiteEvalTensor* output = GetEvalOutput(context, node, 0);
  const auto& op_data = *static_cast<const SoftmaxParams*>(node->user_data);
  if (input->type == kTfLiteInt8 && output->type == kTfLiteInt8) {
    reference_ops::Softmax(op_data, GetTensorShape(input), GetTensorData<int8_t>(input), GetTensorShape(output),
                           GetTensorData<int8_t>(output));
  } else if (input->type == kTfLiteInt8 && output->type == kTfLiteInt16) {
    reference_ops::Softmax(op_data, GetTensorShape(input), GetTensorData<int8_t>(input), GetTensorShape(output),
                           GetTensorData<int16_t>(output));
  } else if (input->type == kTfLiteFloat32) {
    reference_ops::Softmax(op_data, GetTensorShape(input), GetTensorData<float>(input), GetTensorShape(output),
                           GetTensorData<float>(output));
  } else {
    MicroPrintf("mcubench reference SOFTMAX: type %s not supported", TfLiteTypeGetName(input->type));
    return kTfLiteError;
  }
  return kTfLiteOk;
}

/* ---- ADD ---- */
TfLiteStatus AddEval(TfLiteContext* context, TfLiteNode* node) {
  auto* params = static_cast<TfLiteAddParams*>(node->builtin_data);
  const auto* data = static_cast<const OpDataAdd*>(node->user_data);
  const TfLiteEvalTensor* input1 = GetEvalInput(context, node, kAddInputTensor1);
  const TfLiteEvalTensor* input2 = GetEvalInput(context, node, kAddInputTensor2);
  TfLiteEvalTensor* output = GetEvalOutput(context, node, kAddOutputTensor);
  if (output->type == kTfLiteInt8) {
    ArithmeticParams op;
    op.left_shift = data->left_shift;
    op.input1_offset = data->input1_offset;
    op.input1_multiplier = data->input1_multiplier;
    op.input1_shift = data->input1_shift;
    op.input2_offset = data->input2_offset;
    op.input2_multiplier = data->input2_multiplier;
    op.input2_shift = data->input2_shift;
    op.output_offset = data->output_offset;
    op.output_multiplier = data->output_multiplier;
    op.output_shift = data->output_shift;
    SetActivationParams(data->output_activation_min, data->output_activation_max, &op);
    const bool broadcast =
        reference_ops::ProcessBroadcastShapes(GetTensorShape(input1), GetTensorShape(input2), &op);
    if (broadcast) {
      reference_integer_ops::BroadcastAdd4DSlow(op, GetTensorShape(input1), GetTensorData<int8_t>(input1),
                                                GetTensorShape(input2), GetTensorData<int8_t>(input2),
                                                GetTensorShape(output), GetTensorData<int8_t>(output));
    } else {
      reference_integer_ops::Add(op, GetTensorShape(input1), GetTensorData<int8_t>(input1), GetTensorShape(input2),
                                 GetTensorData<int8_t>(input2), GetTensorShape(output),
                                 GetTensorData<int8_t>(output));
    }
    return kTfLiteOk;
  }
  if (output->type == kTfLiteFloat32) {
    ArithmeticParams op;
    SetActivationParams(data->output_activation_min_f32, data->output_activation_max_f32, &op);
    if (data->requires_broadcast) {
      reference_ops::BroadcastAdd4DSlow(op, GetTensorShape(input1), GetTensorData<float>(input1),
                                        GetTensorShape(input2), GetTensorData<float>(input2), GetTensorShape(output),
                                        GetTensorData<float>(output));
    } else {
      reference_ops::Add(op, GetTensorShape(input1), GetTensorData<float>(input1), GetTensorShape(input2),
                         GetTensorData<float>(input2), GetTensorShape(output), GetTensorData<float>(output));
    }
    return kTfLiteOk;
  }
  (void)params;
  MicroPrintf("mcubench reference ADD: type %s not supported", TfLiteTypeGetName(output->type));
  return kTfLiteError;
}

/* ---- MUL ---- */
TfLiteStatus MulEval(TfLiteContext* context, TfLiteNode* node) {
  auto* params = static_cast<TfLiteMulParams*>(node->builtin_data);
  const auto* data = static_cast<const OpDataMul*>(node->user_data);
  const TfLiteEvalTensor* input1 = GetEvalInput(context, node, kMulInput1Tensor);
  const TfLiteEvalTensor* input2 = GetEvalInput(context, node, kMulInput2Tensor);
  TfLiteEvalTensor* output = GetEvalOutput(context, node, kMulOutputTensor);
  if (input1->type == kTfLiteInt8) return EvalMulQuantizedReference(context, node, data, input1, input2, output);
  if (input1->type == kTfLiteFloat32) {
    EvalMulFloatReference(context, node, params, data, input1, input2, output);
    return kTfLiteOk;
  }
  return kTfLiteError;
}

}  // namespace

TfLiteRegistration Register_CONV_2D() { return micro::RegisterOp(InitOpData<OpDataConv>, ConvPrepare, ConvEval); }
TfLiteRegistration Register_DEPTHWISE_CONV_2D() {
  return micro::RegisterOp(InitOpData<OpDataConv>, DepthwiseConvPrepare, DepthwiseEval);
}
TfLiteRegistration Register_FULLY_CONNECTED() {
  return micro::RegisterOp(InitOpData<OpDataFullyConnected>, FullyConnectedPrepare, FullyConnectedEval);
}
TfLiteRegistration Register_AVERAGE_POOL_2D() {
  return micro::RegisterOp(InitOpData<OpDataPooling>, PoolingPrepare, AveragePoolEval);
}
TfLiteRegistration Register_MAX_POOL_2D() {
  return micro::RegisterOp(InitOpData<OpDataPooling>, PoolingPrepare, MaxPoolEval);
}
TfLiteRegistration Register_SOFTMAX() { return micro::RegisterOp(SoftmaxInit, SoftmaxPrepare, SoftmaxEval); }
TfLiteRegistration Register_ADD() { return micro::RegisterOp(InitOpData<OpDataAdd>, AddPrepare, AddEval); }
TfLiteRegistration Register_MUL() { return micro::RegisterOp(MulInit, MulPrepare, MulEval); }

}  // namespace tflite
