#include "core/model.h"

#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/interpreter.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "core/model_internal.h"

namespace agnx {
namespace {

namespace jit = torch::jit;

thread_local LayerInterceptor* current_interceptor = nullptr;

// Installs an interceptor for the running thread for one scope.
class InterceptorScope {
 public:
  explicit InterceptorScope(LayerInterceptor& interceptor) : previous_(current_interceptor) {
    current_interceptor = &interceptor;
  }
  ~InterceptorScope() { current_interceptor = previous_; }
  InterceptorScope(const InterceptorScope&) = delete;
  InterceptorScope& operator=(const InterceptorScope&) = delete;

 private:
  LayerInterceptor* previous_;
};

std::array<int64_t, 2> pair_of(c10::IntArrayRef values, const char* what) {
  TORCH_CHECK(values.size() == 1 || values.size() == 2, what, " must have 1 or 2 values, got ", values.size());
  return {values[0], values[values.size() - 1]};
}

at::Tensor dispatch(const LayerCall& call) {
  return current_interceptor ? current_interceptor->forward(call) : float_forward(call);
}

at::Tensor agnx_conv2d(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                       c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups,
                       int64_t layer) {
  TORCH_CHECK(weight.dim() == 4, "conv2d weight must be 4-D, got ", weight.dim(), "-D");
  ConvGeometry geometry{pair_of(stride, "stride"), pair_of(padding, "padding"), pair_of(dilation, "dilation"), groups};
  return dispatch({static_cast<std::size_t>(layer), input, weight, bias, geometry});
}

at::Tensor agnx_linear(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                       int64_t layer) {
  return dispatch({static_cast<std::size_t>(layer), input, weight, bias, std::nullopt});
}

TORCH_LIBRARY(agnx, m) {
  m.def("conv2d(Tensor input, Tensor weight, Tensor? bias, int[2] stride, int[2] padding, int[2] dilation, "
        "int groups, int layer) -> Tensor",
        &agnx_conv2d);
  m.def("linear(Tensor input, Tensor weight, Tensor? bias, int layer) -> Tensor", &agnx_linear);
}

const c10::Symbol kAtenConv2d = c10::Symbol::fromQualString("aten::conv2d");
const c10::Symbol kAtenConvolution = c10::Symbol::fromQualString("aten::_convolution");
const c10::Symbol kAtenLinear = c10::Symbol::fromQualString("aten::linear");
const c10::Symbol kAgnxConv2d = c10::Symbol::fromQualString("agnx::conv2d");
const c10::Symbol kAgnxLinear = c10::Symbol::fromQualString("agnx::linear");

// Every node of `block` and its sub-blocks, in program order.
void collect_nodes(jit::Block* block, std::vector<jit::Node*>& out) {
  for (jit::Node* node : block->nodes()) {
    out.push_back(node);
    for (jit::Block* sub : node->blocks()) collect_nodes(sub, out);
  }
}

// The dotted path of the submodule whose attribute `weight` is, or an error.
Result<std::string> weight_owner(const jit::Graph& graph, jit::Value* weight, const std::string& op) {
  std::vector<std::string> names;
  jit::Value* value = weight;
  while (value->node()->kind() == c10::prim::GetAttr) {
    names.insert(names.begin(), value->node()->s(c10::attr::name));
    value = value->node()->input(0);
  }
  if (names.empty()) {
    if (weight->node()->kind() == c10::prim::Constant) {
      return Status::invalid_argument("the weight of an " + op +
                                      " is a constant, as in a frozen snapshot; save the model unfrozen "
                                      "(torch.jit.save(torch.jit.script(model)))");
    }
    return Status::invalid_argument("the weight of an " + op + " is computed (" +
                                    std::string(weight->node()->kind().toQualString()) +
                                    "), not an attribute of a submodule; this form is not supported");
  }
  if (value != graph.inputs().at(0)) {
    return Status::invalid_argument("the weight of an " + op + " is not reached from the model's own submodules");
  }
  if (names.size() == 1) {
    return Status::invalid_argument("the weight of an " + op + " belongs to the root module; agnx names layers by "
                                    "submodule, so wrap the layer in a submodule");
  }
  std::string path = names[0];
  for (std::size_t i = 1; i + 1 < names.size(); ++i) path += "." + names[i];
  return path;
}

std::optional<c10::IValue> constant_of(jit::Value* value) { return jit::toIValue(value); }

// For aten::conv2d.padding ('valid' or 'same'): the padding as an int list
// constant inserted before `node`.
Result<jit::Value*> explicit_padding(jit::Graph& graph, jit::Node* node, const jit::Module& owner,
                                     const std::string& layer) {
  const auto mode = constant_of(node->input(4));
  const auto dilation = constant_of(node->input(5));
  if (!mode || !mode->isString() || !dilation) {
    return Status::invalid_argument("layer " + layer + ": conv2d padding must be a constant");
  }
  std::vector<int64_t> padding{0, 0};
  if (mode->toStringRef() == "same") {
    const at::Tensor weight = owner.attr("weight").toTensor();
    const auto dil = dilation->toIntVector();
    for (int d = 0; d < 2; ++d) {
      const int64_t total = dil[dil.size() == 1 ? 0 : d] * (weight.size(2 + d) - 1);
      if (total % 2 != 0) {
        return Status::invalid_argument("layer " + layer + ": padding='same' with an even kernel pads unevenly, "
                                        "which is not supported");
      }
      padding[d] = total / 2;
    }
  } else if (mode->toStringRef() != "valid") {
    return Status::invalid_argument("layer " + layer + ": unknown padding '" + mode->toStringRef() + "'");
  }
  return graph.insertConstant(padding);
}

// Replaces `node` by a call of the agnx op for layer `index`.
Status rewrite_node(jit::Graph& graph, jit::Node* node, std::size_t index, const jit::Module& owner,
                    const std::string& layer) {
  jit::WithInsertPoint insert_before(node);
  jit::Value* layer_index = graph.insertConstant(static_cast<int64_t>(index));
  std::vector<jit::Value*> inputs;
  if (node->kind() == kAtenLinear) {
    inputs = {node->input(0), node->input(1), node->input(2), layer_index};
  } else if (node->kind() == kAtenConv2d) {
    jit::Value* padding = node->input(4);
    if (padding->type()->kind() == c10::TypeKind::StringType) {
      AGNX_ASSIGN_OR_RETURN(padding, explicit_padding(graph, node, owner, layer));
    }
    inputs = {node->input(0), node->input(1), node->input(2), node->input(3), padding,
              node->input(5), node->input(6), layer_index};
  } else {  // aten::_convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups, ...)
    const auto transposed = constant_of(node->input(6));
    if (!transposed || !transposed->isBool() || transposed->toBool()) {
      return Status::invalid_argument("layer " + layer + ": transposed convolutions are not supported");
    }
    inputs = {node->input(0), node->input(1), node->input(2), node->input(3), node->input(4),
              node->input(5), node->input(8), layer_index};
  }
  jit::Node* call = graph.insertNode(graph.create(node->kind() == kAtenLinear ? kAgnxLinear : kAgnxConv2d, inputs, 1));
  call->output()->setType(node->output()->type());
  node->output()->replaceAllUsesWith(call->output());
  node->destroy();
  return {};
}

bool is_layer_node(jit::Node* node) {
  if (node->kind() == kAtenConv2d || node->kind() == kAtenLinear) return true;
  if (node->kind() != kAtenConvolution) return false;
  // Only 2-D convolutions: stride has two entries.
  const auto stride = constant_of(node->input(3));
  return !stride || !stride->isIntList() || stride->toIntVector().size() == 2;
}

Status find_and_rewrite_layers(Model::Impl& impl) {
  std::vector<jit::Node*> nodes;
  collect_nodes(impl.graph->block(), nodes);
  std::map<std::string, std::size_t> seen;
  for (jit::Node* node : nodes) {
    if (!is_layer_node(node)) continue;
    const std::string op = node->kind().toQualString();
    AGNX_ASSIGN_OR_RETURN(const std::string name, weight_owner(*impl.graph, node->input(1), op));
    if (seen.contains(name)) {
      return Status::invalid_argument("submodule " + name + " is applied more than once in forward; agnx needs one "
                                      "call per layer (use a submodule per application)");
    }
    const std::size_t index = impl.layers.size();
    seen[name] = index;
    impl.layers.push_back({name, node->kind() == kAtenLinear ? LayerKind::kLinear : LayerKind::kConv2d});
    AGNX_RETURN_IF_ERROR(rewrite_node(*impl.graph, node, index, impl.submodule(name), name));
  }
  if (impl.layers.empty()) return Status::invalid_argument("the model has no conv2d or linear layer");
  return {};
}

Result<Model::Impl> load_impl(std::istream& in, std::string source) {
  Model::Impl impl;
  impl.source = std::move(source);
  const Status status = guard_torch([&]() -> Status {
    impl.module = jit::load(in);
    impl.module.eval();
    if (!impl.module.find_method("forward")) return Status::invalid_argument("the model has no forward method");
    impl.graph = impl.module.get_method("forward").graph()->copy();
    jit::Inline(*impl.graph);
    if (impl.graph->inputs().size() != 2) {
      return Status::invalid_argument("forward must take exactly one input tensor");
    }
    AGNX_RETURN_IF_ERROR(find_and_rewrite_layers(impl));
    impl.code = std::make_shared<jit::Code>(impl.graph, "agnx_forward");
    return {};
  });
  if (!status.ok()) return status.with_context("cannot load model " + impl.source);
  return impl;
}

}  // namespace

at::Tensor float_forward(const LayerCall& call) {
  if (!call.conv) return at::linear(call.input, call.weight, call.bias);
  const ConvGeometry& g = *call.conv;
  return at::conv2d(call.input, call.weight, call.bias, g.stride, g.padding, g.dilation, g.groups);
}

at::Tensor quantize(const at::Tensor& t, float scale) { return at::clamp(at::round(t / scale), -127, 127); }

at::Tensor as_torch(const FloatTensor& tensor) {
  return torch::from_blob(const_cast<float*>(tensor.values.data()), tensor.shape, torch::kFloat32);
}

at::Tensor batch_of(const FloatTensor& tensor, int64_t first, int64_t count) {
  return as_torch(tensor).narrow(0, first, count);
}

Result<at::Tensor> Model::Impl::run(const at::Tensor& input, LayerInterceptor& interceptor,
                                    bool record_gradients) const {
  at::Tensor output;
  const Status status = guard_torch([&]() -> Status {
    InterceptorScope scope(interceptor);
    torch::AutoGradMode grad_mode(record_gradients);
    std::vector<c10::IValue> stack{module._ivalue(), input};
    jit::InterpreterState(*code).run(stack);
    if (stack.size() != 1 || !stack[0].isTensor()) return Status::invalid_argument("forward must return one tensor");
    output = stack[0].toTensor();
    return {};
  });
  if (!status.ok()) return status.with_context("model " + source);
  return output;
}

torch::jit::Module Model::Impl::submodule(const std::string& name) const {
  torch::jit::Module current = module;
  std::stringstream path(name);
  for (std::string part; std::getline(path, part, '.');) current = current.attr(part).toModule();
  return current;
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Result<Model> Model::load_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(path.string() + ": cannot open the model snapshot");
  AGNX_ASSIGN_OR_RETURN(Impl impl, load_impl(in, path.string()));
  return Model(std::make_unique<Impl>(std::move(impl)));
}

Result<Model> Model::load_bytes(std::string_view bytes, std::string_view source) {
  std::istringstream in{std::string(bytes)};
  AGNX_ASSIGN_OR_RETURN(Impl impl, load_impl(in, std::string(source)));
  return Model(std::make_unique<Impl>(std::move(impl)));
}

const std::string& Model::source() const { return impl_->source; }
const std::vector<LayerSite>& Model::layers() const { return impl_->layers; }

Result<double> Model::stdev(const std::string& name) const {
  const auto& layers = impl_->layers;
  if (std::none_of(layers.begin(), layers.end(), [&](const auto& l) { return l.name == name; })) {
    return Status::not_found("model " + impl_->source + " has no layer " + name);
  }
  double value = 0.0;
  const Status status = guard_torch([&]() -> Status {
    const torch::jit::Module owner = impl_->submodule(name);
    if (!owner.hasattr("stdev")) {
      return Status::not_found("has no stdev buffer, parameter or attribute; give its sigma explicitly");
    }
    const c10::IValue stdev = owner.attr("stdev");
    if (stdev.isTensor() && stdev.toTensor().numel() == 1) {
      value = stdev.toTensor().item<double>();
    } else if (stdev.isDouble() || stdev.isInt()) {
      value = stdev.toScalar().toDouble();
    } else {
      return Status::invalid_argument("stdev is not a single number");
    }
    if (!std::isfinite(value)) return Status::invalid_argument("stdev is not finite");
    return {};
  });
  if (!status.ok()) return status.with_context("layer " + name);
  return std::abs(value);
}

Status Model::set_stdev(const std::string& name, double sigma) {
  const auto& layers = impl_->layers;
  if (std::none_of(layers.begin(), layers.end(), [&](const auto& l) { return l.name == name; })) {
    return Status::not_found("model " + impl_->source + " has no layer " + name);
  }
  const Status status = guard_torch([&]() -> Status {
    torch::jit::Module owner = impl_->submodule(name);
    const auto value = static_cast<float>(std::abs(sigma));
    if (!owner.hasattr("stdev")) {
      owner.register_buffer("stdev", torch::tensor(value));
      return {};
    }
    const c10::IValue current = owner.attr("stdev");
    if (!current.isTensor()) return Status::invalid_argument("stdev is not a tensor");
    torch::NoGradGuard no_grad;
    current.toTensor().fill_(value);
    return {};
  });
  return status.with_context("layer " + name);
}

Result<std::string> Model::save_bytes() const {
  std::ostringstream out;
  const Status status = guard_torch([&]() -> Status {
    impl_->module.save(out);
    return {};
  });
  if (!status.ok()) return status.with_context("cannot save model " + impl_->source);
  return std::move(out).str();
}

Result<std::size_t> Model::set_all(const std::string& attribute, double value) {
  std::size_t changed = 0;
  const Status status = guard_torch([&]() -> Status {
    for (const auto& named : impl_->module.named_modules()) {
      torch::jit::Module owner = named.value;
      if (!owner.hasattr(attribute)) continue;
      const c10::IValue current = owner.attr(attribute);
      if (current.isTensor()) {
        torch::NoGradGuard no_grad;
        current.toTensor().fill_(value);
      } else if (current.isDouble()) {
        owner.setattr(attribute, value);
      } else {
        return Status::invalid_argument("attribute " + attribute + " of " + named.name + " is not a tensor or float");
      }
      ++changed;
    }
    return {};
  });
  if (!status.ok()) return status.with_context("set_all " + attribute);
  return changed;
}

namespace {

class FloatInterceptor final : public LayerInterceptor {
 public:
  at::Tensor forward(const LayerCall& call) override { return float_forward(call); }
};

}  // namespace

Result<FloatTensor> Model::forward(const FloatTensor& input, std::size_t batch_size) const {
  FloatTensor output;
  FloatInterceptor interceptor;
  const auto batch = static_cast<int64_t>(std::max<std::size_t>(batch_size, 1));
  for (int64_t first = 0; first < input.batch(); first += batch) {
    AGNX_ASSIGN_OR_RETURN(const at::Tensor out,
                          impl_->run(batch_of(input, first, std::min(batch, input.batch() - first)), interceptor));
    const at::Tensor values = out.to(torch::kFloat32).contiguous();
    if (output.shape.empty()) output.shape = values.sizes().vec();
    output.values.insert(output.values.end(), values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
  }
  if (!output.shape.empty()) output.shape[0] = input.batch();
  return output;
}

}  // namespace agnx
