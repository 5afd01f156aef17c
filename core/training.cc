#include "core/training.h"

#include <ATen/Parallel.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/accuracy.h"
#include "core/deploy.h"
#include "core/layer_math.h"
#include "core/model_internal.h"

namespace agnx {
namespace {

namespace jit = torch::jit;

// ------------------------------------------------------------ checks

Status check_positive(double value, const std::string& name) {
  if (!std::isfinite(value) || value <= 0.0) {
    return Status::invalid_argument(name + " must be a finite number > 0, got " + std::to_string(value));
  }
  return {};
}

Status check_training(const TrainingOptions& options) {
  if (options.epochs < 1 || options.epochs > kMaxEpochs) {
    return Status::invalid_argument("epochs must be from 1 to " + std::to_string(kMaxEpochs) + ", got " +
                                    std::to_string(options.epochs));
  }
  if (options.batch_size < 2) {
    return Status::invalid_argument("batch_size must be at least 2 (batch norm needs two samples), got " +
                                    std::to_string(options.batch_size));
  }
  return {};
}

Status check_data(const LabelledData& data, const std::string& what) {
  if (data.inputs.batch() < 2) return Status::invalid_argument(what + " inputs: need at least 2 images");
  if (data.labels.size() != static_cast<std::size_t>(data.inputs.batch())) {
    return Status::invalid_argument(what + " labels: " + std::to_string(data.labels.size()) + " labels for " +
                                    std::to_string(data.inputs.batch()) + " images");
  }
  return {};
}

Status check_label_range(const LabelledData& data, int64_t classes, const std::string& what) {
  for (std::size_t i = 0; i < data.labels.size(); ++i) {
    if (data.labels[i] < 0 || data.labels[i] >= classes) {
      return Status::invalid_argument(what + " labels: label " + std::to_string(data.labels[i]) + " at index " +
                                      std::to_string(i) + " is outside the model's " + std::to_string(classes) +
                                      " classes");
    }
  }
  return {};
}

// The dotted attribute path that `value` is read from, or "" when it is not
// an attribute of the model.
std::string attribute_path(jit::Value* value) {
  std::string path;
  while (value->node()->kind() == c10::prim::GetAttr) {
    path = value->node()->s(c10::attr::name) + (path.empty() ? "" : "." + path);
    value = value->node()->input(0);
  }
  return path;
}

// A batch norm whose `training` argument is a constant (as tracing in eval
// mode leaves it) cannot train.
Status check_trainable(const Model& model) {
  std::vector<jit::Block*> blocks{model.impl().graph->block()};
  while (!blocks.empty()) {
    jit::Block* block = blocks.back();
    blocks.pop_back();
    for (jit::Node* node : block->nodes()) {
      for (jit::Block* sub : node->blocks()) blocks.push_back(sub);
      if (node->kind() != c10::Symbol::fromQualString("aten::batch_norm")) continue;
      if (node->input(5)->node()->kind() != c10::prim::Constant) continue;
      std::string name = attribute_path(node->input(3));
      name = name.empty() ? "a batch norm" : "the batch norm " + name.substr(0, name.rfind('.'));
      return Status::failed_precondition(name + " of model " + model.source() +
                                         " is fixed in eval mode (a traced snapshot) and cannot train; save the "
                                         "model with torch.jit.script");
    }
  }
  return {};
}

// ------------------------------------------------------------ model state

// Train mode (batch norm on batch statistics) for one scope, then eval mode.
class TrainMode {
 public:
  explicit TrainMode(Model& model) : module_(model.impl().module) { module_.train(true); }
  ~TrainMode() { end(); }
  // Back to eval mode before the scope ends.
  void end() { module_.train(false); }
  TrainMode(const TrainMode&) = delete;
  TrainMode& operator=(const TrainMode&) = delete;

 private:
  jit::Module module_;
};

std::vector<at::Tensor> trainable_parameters(Model& model) {
  std::vector<at::Tensor> parameters;
  for (const at::Tensor& p : model.impl().module.parameters()) parameters.push_back(p.requires_grad_(true));
  return parameters;
}

at::Tensor layer_weight(const Model& model, std::size_t layer) {
  return model.impl().submodule(model.layers()[layer].name).attr("weight").toTensor();
}

void update_weight_scales(const Model& model, MatchingInfo& info) {
  for (std::size_t i = 0; i < info.layers.size(); ++i) {
    info.layers[i].weight_scale = quantization_scale(layer_weight(model, i).detach().abs().max().item<float>());
  }
}

// ------------------------------------------------------------ interceptors

class FloatLayers final : public LayerInterceptor {
 public:
  at::Tensor forward(const LayerCall& call) override { return float_forward(call); }
};

// Float layers; records each layer's opcount.
class OpcountProbe final : public LayerInterceptor {
 public:
  explicit OpcountProbe(std::size_t layers) : opcount_(layers, 0) {}
  at::Tensor forward(const LayerCall& call) override {
    at::Tensor output = float_forward(call);
    opcount_[call.layer] = opcount_per_sample(call, output);
    return output;
  }
  const std::vector<int64_t>& opcount() const { return opcount_; }

 private:
  std::vector<int64_t> opcount_;
};

// y + N(0, 1) * std(y).detach() * |s_l|.
class NoiseInjection final : public LayerInterceptor {
 public:
  NoiseInjection(const std::vector<at::Tensor>& sigma, uint64_t seed)
      : sigma_(sigma), generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}
  at::Tensor forward(const LayerCall& call) override {
    const at::Tensor y = float_forward(call);
    const at::Tensor noise = at::randn(y.sizes(), generator_, y.options());
    return y + noise * y.detach().std() * sigma_[call.layer].abs();
  }

 private:
  const std::vector<at::Tensor>& sigma_;
  at::Generator generator_;
};

// A signed multiplier whose products are `m`'s errors: approx(x, w) - x*w.
Multiplier error_multiplier(const Multiplier& m) {
  std::vector<int32_t> table(kTableSize);
  for (std::size_t x = 0; x < 256; ++x) {
    for (std::size_t w = 0; w < 256; ++w) table[x * 256 + w] = static_cast<int32_t>(m.error_at(x, w));
  }
  return *Multiplier::create(m.name() + " errors", Signedness::kSigned, std::move(table), {});
}

// What deployment computes: the float op on the fake-quantized operands
// plus the multiplier's summed product errors, dequantized (so an exact
// multiplier gives exactly the fake-quantized float forward); the gradient
// is the float op's at the fake-quantized operands (straight-through).
class ApproximateLayers final : public LayerInterceptor {
 public:
  ApproximateLayers(const MatchingInfo& info, std::span<const Multiplier* const> multipliers, std::size_t threads)
      : threads_(threads) {
    for (const LayerInfo& layer : info.layers) input_scales_.push_back(static_cast<float>(*layer.input_scale));
    for (const Multiplier* m : multipliers) errors_.push_back(error_multiplier(*m));
  }
  at::Tensor forward(const LayerCall& call) override {
    const float input_scale = input_scales_[call.layer];
    const float weight_scale = quantization_scale(call.weight.detach().abs().max().item<float>());
    const at::Tensor input_q = quantize(call.input.detach(), input_scale);
    const at::Tensor weight_q = quantize(call.weight.detach(), weight_scale);
    const at::Tensor input_fq = call.input + (input_q * input_scale - call.input).detach();
    const at::Tensor weight_fq = call.weight + (weight_q * weight_scale - call.weight).detach();
    const at::Tensor y_fq = float_forward({call.layer, input_fq, weight_fq, call.bias, call.conv});
    const LayerLut errors(errors_[call.layer], weight_q, call.conv.has_value(), call.conv ? call.conv->groups : 1);
    const at::Tensor error = errors.outputs(call, input_q, threads_).to(torch::kFloat32) * (input_scale * weight_scale);
    return y_fq + error;
  }

 private:
  std::vector<float> input_scales_;
  std::vector<Multiplier> errors_;
  std::size_t threads_;
};

// ------------------------------------------------------------ data

at::Tensor labels_of(const LabelledData& data) {
  return torch::from_blob(const_cast<int64_t*>(data.labels.data()), {static_cast<int64_t>(data.labels.size())},
                          torch::kInt64);
}

// The batches of one epoch: a shuffled order (seeded per epoch), cut into
// batches of batch_size; a last batch of one image is dropped.
std::vector<at::Tensor> epoch_batches(int64_t size, std::size_t batch_size, uint64_t seed) {
  std::vector<int64_t> order(static_cast<std::size_t>(size));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 engine(seed);
  for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[engine() % (i + 1)]);
  std::vector<at::Tensor> batches;
  for (std::size_t first = 0; first + 1 < order.size(); first += batch_size) {
    const std::size_t count = std::min(batch_size, order.size() - first);
    batches.push_back(torch::tensor(std::vector<int64_t>(order.begin() + first, order.begin() + first + count)));
  }
  return batches;
}

// Runs the first two images through the float model in eval mode: each
// layer's opcount and the model's class count.
Result<std::pair<std::vector<int64_t>, int64_t>> probe(const Model& model, const LabelledData& data,
                                                       const std::string& what) {
  OpcountProbe probe(model.layers().size());
  auto logits = model.impl().run(as_torch(data.inputs).narrow(0, 0, 2), probe);
  if (!logits.ok()) return Status::invalid_argument(what + " inputs: " + logits.status().message());
  if (logits->dim() != 2) {
    return Status::invalid_argument("model " + model.source() + " must return [N, classes] logits to train");
  }
  return std::pair{probe.opcount(), logits->size(1)};
}

// ------------------------------------------------------------ batch norm

struct BatchNorm {
  std::string name;
  at::Tensor mean, var;  // the module's running statistics (updated in place)
  std::optional<at::Tensor> tracked;
};

std::vector<BatchNorm> batch_norms(const Model& model) {
  std::vector<BatchNorm> found;
  for (const auto& named : model.impl().module.named_modules()) {
    const jit::Module& m = named.value;
    if (!m.hasattr("running_mean") || !m.hasattr("running_var")) continue;
    if (!m.attr("running_mean").isTensor() || !m.attr("running_var").isTensor()) continue;
    BatchNorm bn{named.name, m.attr("running_mean").toTensor(), m.attr("running_var").toTensor(), std::nullopt};
    if (m.hasattr("num_batches_tracked") && m.attr("num_batches_tracked").isTensor()) {
      bn.tracked = m.attr("num_batches_tracked").toTensor();
    }
    found.push_back(std::move(bn));
  }
  return found;
}

void reset(std::vector<BatchNorm>& norms, double value) {
  for (BatchNorm& bn : norms) {
    bn.mean.fill_(value);
    bn.var.fill_(value);
    if (bn.tracked) bn.tracked->zero_();
  }
}

// Recomputes every batch norm's running statistics as the average of the
// batch statistics over the first `images` inputs, layers computed by
// `layers`, no gradients. The snapshot's momentum m is compiled into its
// graph, so it is measured: a pass from statistics 1 and one from 0 differ
// by (1 - m); after a pass from 0 the running value is m * the batch's.
Status recompute_batch_norms(Model& model, LayerInterceptor& layers, const FloatTensor& inputs, std::size_t images,
                             std::size_t batch_size) {
  std::vector<BatchNorm> norms = batch_norms(model);
  if (norms.empty()) return {};
  torch::NoGradGuard no_grad;
  TrainMode train(model);
  const int64_t count = std::min<int64_t>(static_cast<int64_t>(images), inputs.batch());
  const auto batch = static_cast<int64_t>(batch_size);
  const at::Tensor all = as_torch(inputs);
  const auto run = [&](int64_t first) { return model.impl().run(all.narrow(0, first, std::min(batch, count - first)), layers); };

  reset(norms, 1.0);
  AGNX_RETURN_IF_ERROR(run(0).status());
  std::vector<at::Tensor> from_one;
  for (const BatchNorm& bn : norms) from_one.push_back(bn.mean.clone());
  reset(norms, 0.0);
  AGNX_RETURN_IF_ERROR(run(0).status());
  std::vector<double> momentum;
  for (std::size_t i = 0; i < norms.size(); ++i) {
    momentum.push_back(1.0 - (from_one[i] - norms[i].mean).mean().item<double>());
    if (!(momentum.back() > 1e-6)) {
      return Status::failed_precondition("batch norm " + norms[i].name + " does not update its running statistics");
    }
  }
  std::vector<at::Tensor> sum_mean, sum_var;
  for (const BatchNorm& bn : norms) {
    sum_mean.push_back(at::zeros_like(bn.mean));
    sum_var.push_back(at::zeros_like(bn.var));
  }
  int64_t batches = 0;
  for (int64_t first = 0; first + 1 < count; first += batch, ++batches) {
    reset(norms, 0.0);
    AGNX_RETURN_IF_ERROR(run(first).status());
    for (std::size_t i = 0; i < norms.size(); ++i) {
      sum_mean[i] += norms[i].mean / momentum[i];
      sum_var[i] += norms[i].var / momentum[i];
    }
  }
  for (std::size_t i = 0; i < norms.size(); ++i) {
    norms[i].mean.copy_(sum_mean[i] / static_cast<double>(batches));
    norms[i].var.copy_(sum_var[i] / static_cast<double>(batches));
    if (norms[i].tracked) norms[i].tracked->fill_(batches);
  }
  return {};
}

// ------------------------------------------------------------ the loop

double cosine(std::size_t step, std::size_t total, double base) {
  return base * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(std::min(step, total)) / static_cast<double>(total)));
}

// What one training run adds to the shared loop.
struct LoopParts {
  std::string stage;                          // "search" or "retrain"
  LayerInterceptor& layers;
  torch::optim::Optimizer& optimizer;
  std::function<at::Tensor()> regularizer;    // added to the cross entropy; may be empty
  std::function<Status(EpochMetrics&)> end_of_epoch;  // adds figures; may be empty
};

struct EpochSums {
  double loss = 0.0, cross_entropy = 0.0;
  int64_t correct = 0, seen = 0;
};

// One batch: forward, loss, finite check, backward, step.
Status train_batch(Model& model, const at::Tensor& x, const at::Tensor& y, LoopParts& parts, EpochSums& sums,
                   const std::string& where) {
  AGNX_ASSIGN_OR_RETURN(const at::Tensor logits, model.impl().run(x, parts.layers, true));
  return guard_torch([&]() -> Status {
    const at::Tensor cross_entropy = at::cross_entropy_loss(logits, y);
    const at::Tensor loss = parts.regularizer ? cross_entropy + parts.regularizer() : cross_entropy;
    const double value = loss.item<double>();
    if (!std::isfinite(value)) return Status::failed_precondition("the loss is not finite (" + std::to_string(value) + ") at " + where);
    parts.optimizer.zero_grad();
    loss.backward();
    parts.optimizer.step();
    const auto n = x.size(0);
    sums.loss += value * static_cast<double>(n);
    sums.cross_entropy += cross_entropy.item<double>() * static_cast<double>(n);
    sums.correct += logits.argmax(1).eq(y).sum().item<int64_t>();
    sums.seen += n;
    return {};
  });
}

Result<std::vector<EpochMetrics>> train_epochs(Model& model, const LabelledData& data, const TrainingOptions& options,
                                               LoopParts& parts) {
  std::vector<double> base_rates;
  for (const auto& group : parts.optimizer.param_groups()) base_rates.push_back(group.options().get_lr());
  const at::Tensor inputs = as_torch(data.inputs), labels = labels_of(data);
  const std::size_t per_epoch = epoch_batches(data.inputs.batch(), options.batch_size, 0).size();
  const std::size_t total = per_epoch * options.epochs;
  std::vector<EpochMetrics> epochs;
  std::size_t step = 0;
  for (std::size_t epoch = 1; epoch <= options.epochs; ++epoch) {
    EpochSums sums;
    const auto batches = epoch_batches(data.inputs.batch(), options.batch_size, options.seed + epoch);
    TrainMode train(model);
    for (std::size_t b = 0; b < batches.size(); ++b, ++step) {
      const std::string where = "epoch " + std::to_string(epoch) + ", batch " + std::to_string(b + 1);
      if (options.cancelled && options.cancelled->load()) return Status::cancelled("cancelled at " + where);
      for (std::size_t g = 0; g < base_rates.size(); ++g) {
        parts.optimizer.param_groups()[g].options().set_lr(cosine(step, total, base_rates[g]));
      }
      AGNX_RETURN_IF_ERROR(train_batch(model, inputs.index_select(0, batches[b]), labels.index_select(0, batches[b]),
                                       parts, sums, where));
      if (options.on_progress) options.on_progress({parts.stage, b + 1, batches.size(), epoch, options.epochs});
    }
    train.end();
    const auto seen = static_cast<double>(sums.seen);
    EpochMetrics metrics{epoch, {{"loss", sums.loss / seen}, {"cross_entropy", sums.cross_entropy / seen},
                                 {"train_top1", static_cast<double>(sums.correct) / seen}}};
    if (parts.end_of_epoch) AGNX_RETURN_IF_ERROR(parts.end_of_epoch(metrics));
    if (options.on_epoch) options.on_epoch(metrics);
    epochs.push_back(std::move(metrics));
  }
  return epochs;
}

torch::optim::OptimizerParamGroup adam_group(std::vector<at::Tensor> parameters, double learning_rate) {
  return {std::move(parameters), std::make_unique<torch::optim::AdamOptions>(learning_rate)};
}

// The checks of check_training_data; returns each layer's opcount.
Result<std::vector<int64_t>> checked_opcounts(const Model& model, const LabelledData& train) {
  AGNX_RETURN_IF_ERROR(check_data(train, "training"));
  AGNX_RETURN_IF_ERROR(check_trainable(model));
  AGNX_ASSIGN_OR_RETURN(const auto probed, probe(model, train, "training"));
  AGNX_RETURN_IF_ERROR(check_label_range(train, probed.second, "training"));
  return probed.first;
}

// Checks shared by both runs; returns each layer's opcount.
Result<std::vector<int64_t>> prepare(Model& model, const LabelledData& train, const TrainingOptions& options) {
  AGNX_RETURN_IF_ERROR(check_training(options));
  at::set_num_threads(static_cast<int>(std::max<std::size_t>(options.num_threads, 1)));
  return checked_opcounts(model, train);
}

Status check_search(const AgnSearchOptions& options) {
  if (!std::isfinite(options.lambda) || options.lambda < 0.0) {
    return Status::invalid_argument("lambda must be a finite number >= 0, got " + std::to_string(options.lambda));
  }
  AGNX_RETURN_IF_ERROR(check_positive(options.sigma_max, "sigma_max"));
  AGNX_RETURN_IF_ERROR(check_positive(options.sigma_init, "sigma_init"));
  AGNX_RETURN_IF_ERROR(check_positive(options.weight_learning_rate, "weight_learning_rate"));
  return check_positive(options.sigma_learning_rate, "sigma_learning_rate");
}

Status check_matching(const Model& model, const MatchingInfo& info, std::span<const Multiplier* const> multipliers) {
  const auto& sites = model.layers();
  if (info.layers.size() != sites.size() || multipliers.size() != sites.size()) {
    return Status::invalid_argument("the matching has " + std::to_string(info.layers.size()) + " layers and " +
                                    std::to_string(multipliers.size()) + " multipliers, model " + model.source() +
                                    " has " + std::to_string(sites.size()) + " layers");
  }
  for (std::size_t i = 0; i < sites.size(); ++i) {
    if (info.layers[i].name != sites[i].name) {
      return Status::invalid_argument("layer " + std::to_string(i) + " of the matching is " + info.layers[i].name +
                                      ", of the model " + sites[i].name);
    }
    if (!info.layers[i].input_scale) {
      return Status::failed_precondition("layer " + sites[i].name + " has no input scale; capture the model first");
    }
  }
  return {};
}

}  // namespace

Status check_training_data(const Model& model, const LabelledData& data) {
  return checked_opcounts(model, data).status();
}

Result<AgnSearchResult> agn_search(Model& model, const LabelledData& train, const AgnSearchOptions& options) {
  AGNX_RETURN_IF_ERROR(check_search(options));
  AGNX_ASSIGN_OR_RETURN(const std::vector<int64_t> opcount, prepare(model, train, options.training));
  const double total_opcount = static_cast<double>(std::accumulate(opcount.begin(), opcount.end(), int64_t{0}));
  std::vector<at::Tensor> sigma;
  for (std::size_t i = 0; i < opcount.size(); ++i) {
    sigma.push_back(torch::full({}, options.sigma_init, torch::kFloat32).requires_grad_(true));
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.push_back(adam_group(trainable_parameters(model), options.weight_learning_rate));
  groups.push_back(adam_group(sigma, options.sigma_learning_rate));
  torch::optim::Adam optimizer(std::move(groups));
  NoiseInjection noise(sigma, options.training.seed);
  const auto noise_term = [&] {
    at::Tensor sum = torch::zeros({});
    for (std::size_t i = 0; i < sigma.size(); ++i) {
      sum = sum + (static_cast<double>(opcount[i]) / total_opcount) * sigma[i].abs().clamp_max(options.sigma_max);
    }
    return -options.lambda * sum;
  };
  const auto& layers = model.layers();
  LoopParts parts{"search", noise, optimizer, noise_term, [&](EpochMetrics& metrics) -> Status {
                    torch::NoGradGuard no_grad;
                    metrics.values["noise_term"] = noise_term().item<double>();
                    for (std::size_t i = 0; i < layers.size(); ++i) {
                      metrics.values["sigma." + layers[i].name] = sigma[i].abs().item<double>();
                    }
                    return {};
                  }};
  AgnSearchResult result;
  AGNX_ASSIGN_OR_RETURN(result.epochs, train_epochs(model, train, options.training, parts));
  FloatLayers float_layers;
  AGNX_RETURN_IF_ERROR(recompute_batch_norms(model, float_layers, train.inputs, options.batchnorm_images,
                                             options.training.batch_size));
  for (std::size_t i = 0; i < layers.size(); ++i) {
    result.sigma[layers[i].name] = std::abs(sigma[i].item<double>());
    result.opcount[layers[i].name] = opcount[i];
    AGNX_RETURN_IF_ERROR(model.set_stdev(layers[i].name, result.sigma[layers[i].name]));
  }
  return result;
}

Result<RetrainResult> approximate_retrain(Model& model, MatchingInfo& info,
                                          std::span<const Multiplier* const> multipliers, const LabelledData& train,
                                          const RetrainOptions& options) {
  AGNX_RETURN_IF_ERROR(check_positive(options.learning_rate, "learning_rate"));
  AGNX_RETURN_IF_ERROR(check_matching(model, info, multipliers));
  AGNX_RETURN_IF_ERROR(prepare(model, train, options.training).status());
  if (options.test) AGNX_RETURN_IF_ERROR(check_data(*options.test, "test"));
  torch::optim::SGD optimizer(trainable_parameters(model),
                              torch::optim::SGDOptions(options.learning_rate).momentum(0.9));
  ApproximateLayers approximate(info, multipliers, options.training.num_threads);
  const EvaluationOptions evaluation{.batch_size = 256, .num_threads = options.training.num_threads, .on_progress = {}};
  LoopParts parts{"retrain", approximate, optimizer, {}, [&](EpochMetrics& metrics) -> Status {
                    if (!options.test) return {};
                    update_weight_scales(model, info);
                    AGNX_ASSIGN_OR_RETURN(const FloatTensor logits, approximate_forward(model, info, multipliers,
                                                                                        options.test->inputs, evaluation));
                    AGNX_ASSIGN_OR_RETURN(const auto top1, topk_accuracy(logits.values, static_cast<std::size_t>(logits.shape[1]),
                                                                         options.test->labels, std::vector<int>{1}));
                    metrics.values["test_top1"] = top1[0];
                    return {};
                  }};
  RetrainResult result;
  AGNX_ASSIGN_OR_RETURN(result.epochs, train_epochs(model, train, options.training, parts));
  AGNX_RETURN_IF_ERROR(recompute_batch_norms(model, approximate, train.inputs, options.batchnorm_images,
                                             options.training.batch_size));
  update_weight_scales(model, info);
  return result;
}

Result<StepResult> training_step(Model& model, const LabelledData& batch, ForwardMode mode, const MatchingInfo* info,
                                 std::span<const Multiplier* const> multipliers, std::size_t num_threads) {
  AGNX_RETURN_IF_ERROR(check_data(batch, "batch"));
  at::set_num_threads(static_cast<int>(std::max<std::size_t>(num_threads, 1)));
  FloatLayers float_layers;
  const std::vector<at::Tensor> sigma(model.layers().size(), torch::full({}, 0.1));
  NoiseInjection noise(sigma, 0);
  std::optional<ApproximateLayers> approximate;
  if (mode == ForwardMode::kApproximate) {
    if (!info) return Status::invalid_argument("the approximate step needs a matching");
    AGNX_RETURN_IF_ERROR(check_matching(model, *info, multipliers));
    approximate.emplace(*info, multipliers, num_threads);
  }
  LayerInterceptor& layers = mode == ForwardMode::kFloat  ? static_cast<LayerInterceptor&>(float_layers)
                             : mode == ForwardMode::kAgnNoise ? static_cast<LayerInterceptor&>(noise)
                                                             : *approximate;
  const std::vector<at::Tensor> parameters = trainable_parameters(model);
  TrainMode train(model);
  AGNX_ASSIGN_OR_RETURN(const at::Tensor logits, model.impl().run(as_torch(batch.inputs), layers, true));
  StepResult result;
  const Status status = guard_torch([&]() -> Status {
    for (const at::Tensor& p : parameters) p.mutable_grad() = at::Tensor();
    at::cross_entropy_loss(logits, labels_of(batch)).backward();
    const at::Tensor values = logits.detach().contiguous();
    result.logits = {values.sizes().vec(), {values.data_ptr<float>(), values.data_ptr<float>() + values.numel()}};
    for (const at::Tensor& p : parameters) {
      const at::Tensor g = p.grad().defined() ? p.grad().contiguous() : at::zeros_like(p);
      result.gradients.push_back({g.sizes().vec(), {g.data_ptr<float>(), g.data_ptr<float>() + g.numel()}});
    }
    return {};
  });
  AGNX_RETURN_IF_ERROR(status);
  return result;
}

}  // namespace agnx
