// Internals of Model shared by the LibTorch files of core/ (model.cc,
// capture.cc, deploy.cc). Includes LibTorch: never include it elsewhere.
//
// The snapshot's forward graph is inlined and each layer's node is rewritten
// into a call of the custom op agnx::conv2d or agnx::linear, which hands the
// call to the LayerInterceptor installed for the running thread. Capture and
// approximate evaluation are interceptors.
#pragma once

#include <torch/script.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/status.h"
#include "core/tensor.h"

namespace torch::jit {
struct Code;
}

namespace agnx {

struct ConvGeometry {
  std::array<int64_t, 2> stride;
  std::array<int64_t, 2> padding;
  std::array<int64_t, 2> dilation;
  int64_t groups;
};

// One execution of a layer. It refers to its arguments and must not outlive
// them (bind no temporaries to it).
struct LayerCall {
  std::size_t layer;  // index into Model::layers()
  const at::Tensor& input;
  const at::Tensor& weight;
  const c10::optional<at::Tensor>& bias;
  std::optional<ConvGeometry> conv;  // nullopt for linear
};

// What the original node computes: the float convolution or linear.
at::Tensor float_forward(const LayerCall& call);

class LayerInterceptor {
 public:
  virtual ~LayerInterceptor() = default;
  // Returns the layer's output for `call`. May throw (c10::Error or
  // std::exception); Model::Impl::run turns that into a Status.
  virtual at::Tensor forward(const LayerCall& call) = 0;
};

struct Model::Impl {
  std::string source;
  torch::jit::Module module;
  std::shared_ptr<torch::jit::Graph> graph;  // inlined forward, layers rewritten
  std::shared_ptr<torch::jit::Code> code;
  std::vector<LayerSite> layers;

  // Runs the rewritten forward on `input` with every layer call going to
  // `interceptor` (installed for this thread for the duration of the call).
  // Without `record_gradients` no autograd graph is built. The module's
  // train/eval mode is the caller's. Errors name the source; nothing thrown
  // by LibTorch escapes.
  Result<at::Tensor> run(const at::Tensor& input, LayerInterceptor& interceptor,
                         bool record_gradients = false) const;

  // The submodule of layer `name` (REQUIRES: a layer name).
  torch::jit::Module submodule(const std::string& name) const;
};

// The quantization scale of a tensor whose largest magnitude is `max_abs`:
// max_abs / 127 in float32, or 1 for an all-zero tensor.
inline float quantization_scale(float max_abs) { return max_abs == 0.0f ? 1.0f : max_abs / 127.0f; }

// clamp(round_half_to_even(t / scale), -127, 127), in float32 like PyTorch.
at::Tensor quantize(const at::Tensor& t, float scale);

// An at::Tensor view of `tensor` (no copy; it must outlive the view).
at::Tensor as_torch(const FloatTensor& tensor);

// The rows [first, first + count) of `tensor` along dimension 0, as a view.
at::Tensor batch_of(const FloatTensor& tensor, int64_t first, int64_t count);

// Runs `body` (returning a Status), turning anything LibTorch throws into an
// InvalidArgument Status with its message; callers add context.
template <typename Body>
Status guard_torch(Body&& body) {
  try {
    return body();
  } catch (const c10::Error& e) {
    return Status::invalid_argument(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Status::invalid_argument(e.what());
  }
}

}  // namespace agnx
