#include "core/deploy.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <memory>

#include "core/accuracy.h"
#include "core/integer_moments.h"
#include "core/layer_math.h"

namespace agnx {
namespace {

// One layer as deployed: its scales, multiplier and table products.
struct DeployedLayer {
  float input_scale = 1.0f;
  float weight_scale = 1.0f;
  at::Tensor weight_q;
  at::Tensor weight_q_double;
  const Multiplier* multiplier = nullptr;
  std::unique_ptr<LayerLut> lut;  // prepared on the first call, when the geometry is known

  const LayerLut& lut_for(const LayerCall& call) {
    if (!lut) lut = std::make_unique<LayerLut>(*multiplier, weight_q, call.conv.has_value(), call.conv ? call.conv->groups : 1);
    return *lut;
  }
};

Result<std::vector<DeployedLayer>> deploy_layers(const Model& model, const MatchingInfo& info,
                                                 std::span<const Multiplier* const> multipliers) {
  const auto& sites = model.layers();
  if (info.layers.size() != sites.size() || multipliers.size() != sites.size()) {
    return Status::invalid_argument("the matching has " + std::to_string(info.layers.size()) +
                                    " layers and " + std::to_string(multipliers.size()) + " multipliers, model " +
                                    model.source() + " has " + std::to_string(sites.size()));
  }
  std::vector<DeployedLayer> layers(sites.size());
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const LayerInfo& layer = info.layers[i];
    if (layer.name != sites[i].name) {
      return Status::invalid_argument("layer " + std::to_string(i) + " of the matching is " + layer.name +
                                      ", of the model " + sites[i].name);
    }
    if (!layer.input_scale || !layer.weight_scale) {
      return Status::failed_precondition("layer " + layer.name + " has no quantization scales; capture the model first");
    }
    const at::Tensor weight = model.impl().submodule(layer.name).attr("weight").toTensor().detach();
    DeployedLayer& d = layers[i];
    d.input_scale = static_cast<float>(*layer.input_scale);
    d.weight_scale = static_cast<float>(*layer.weight_scale);
    d.weight_q = quantize(weight, d.weight_scale);
    d.weight_q_double = d.weight_q.to(torch::kFloat64);
    d.multiplier = multipliers[i];
  }
  return layers;
}

// Layers through LUT products, dequantized, plus bias.
class ApproximatePass final : public LayerInterceptor {
 public:
  ApproximatePass(std::vector<DeployedLayer>& layers, std::size_t num_threads)
      : layers_(layers), num_threads_(num_threads) {}

  at::Tensor forward(const LayerCall& call) override {
    DeployedLayer& layer = layers_[call.layer];
    const at::Tensor products = layer.lut_for(call).outputs(call, quantize(call.input, layer.input_scale), num_threads_);
    at::Tensor y = products.to(torch::kFloat32) * (layer.input_scale * layer.weight_scale);
    if (call.bias && call.bias->defined()) {
      y = call.conv ? y + call.bias->reshape({1, -1, 1, 1}) : y + *call.bias;
    }
    return y;
  }

 private:
  std::vector<DeployedLayer>& layers_;
  std::size_t num_threads_;
};

// Float activations; accumulates y_approx - y_exact per layer.
class ObservePass final : public LayerInterceptor {
 public:
  ObservePass(std::vector<DeployedLayer>& layers, std::size_t num_threads)
      : layers_(layers), differences_(layers.size()), num_threads_(num_threads) {}

  at::Tensor forward(const LayerCall& call) override {
    DeployedLayer& layer = layers_[call.layer];
    const at::Tensor x = quantize(call.input, layer.input_scale);
    const at::Tensor exact = exact_outputs(call, x, layer.weight_q_double).contiguous();
    const at::Tensor approx = layer.lut_for(call).outputs(call, x, num_threads_).to(torch::kFloat64).contiguous();
    const double* e = exact.data_ptr<double>();
    const double* a = approx.data_ptr<double>();
    for (int64_t i = 0; i < exact.numel(); ++i) differences_[call.layer].add(std::llround(a[i] - e[i]));
    return float_forward(call);
  }

  const IntegerMoments& differences(std::size_t layer) const { return differences_[layer]; }

 private:
  std::vector<DeployedLayer>& layers_;
  std::vector<IntegerMoments> differences_;
  std::size_t num_threads_;
};

Result<FloatTensor> run_model(const Model& model, LayerInterceptor& pass, const FloatTensor& input,
                              const EvaluationOptions& options, const std::string& stage) {
  FloatTensor output;
  const auto batch = static_cast<int64_t>(std::max<std::size_t>(options.batch_size, 1));
  const auto total = static_cast<std::size_t>((input.batch() + batch - 1) / batch);
  std::size_t done = 0;
  for (int64_t first = 0; first < input.batch(); first += batch) {
    AGNX_ASSIGN_OR_RETURN(const at::Tensor out,
                          model.impl().run(batch_of(input, first, std::min(batch, input.batch() - first)), pass));
    const at::Tensor values = out.to(torch::kFloat32).contiguous();
    if (output.shape.empty()) output.shape = values.sizes().vec();
    output.values.insert(output.values.end(), values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
    if (options.on_progress) options.on_progress({stage, ++done, total});
  }
  if (!output.shape.empty()) output.shape[0] = input.batch();
  return output;
}

Result<std::vector<double>> top1_top5(const FloatTensor& logits, std::span<const int64_t> labels,
                                      const std::string& which) {
  if (logits.shape.size() != 2) {
    return Status::invalid_argument(which + " model outputs must be [N, classes] logits");
  }
  const auto classes = static_cast<std::size_t>(logits.shape[1]);
  const std::vector<int> ks{1, static_cast<int>(std::min<std::size_t>(5, classes))};
  auto accuracy = topk_accuracy(logits.values, classes, labels, ks);
  if (!accuracy.ok()) return accuracy.status().with_context(which + " model");
  return accuracy;
}

}  // namespace

Result<std::vector<const Multiplier*>> chosen_multipliers(const MatchingInfo& info, const MultiplierLibrary& library) {
  std::vector<const Multiplier*> multipliers;
  for (const auto& layer : info.layers) {
    const Multiplier* m = library.find(layer.multiplier_name);
    if (!m) {
      return Status::not_found("layer " + layer.name + ": multiplier " + layer.multiplier_name + " is not in library " +
                               library.name());
    }
    multipliers.push_back(m);
  }
  return multipliers;
}

Result<FloatTensor> approximate_forward(const Model& model, const MatchingInfo& info,
                                        std::span<const Multiplier* const> multipliers, const FloatTensor& input,
                                        const EvaluationOptions& options) {
  at::set_num_threads(static_cast<int>(std::max<std::size_t>(options.num_threads, 1)));
  AGNX_ASSIGN_OR_RETURN(std::vector<DeployedLayer> layers, deploy_layers(model, info, multipliers));
  ApproximatePass pass(layers, options.num_threads);
  return run_model(model, pass, input, options, "evaluation");
}

Result<ModelAccuracy> evaluate_accuracy(const Model& model, const MatchingInfo& info,
                                        const MultiplierLibrary& library, const FloatTensor& test_x,
                                        std::span<const int64_t> test_y, const EvaluationOptions& options) {
  if (test_x.batch() != static_cast<int64_t>(test_y.size())) {
    return Status::invalid_argument("test data holds " + std::to_string(test_x.batch()) + " inputs but " +
                                    std::to_string(test_y.size()) + " labels");
  }
  AGNX_ASSIGN_OR_RETURN(const std::vector<const Multiplier*> chosen, chosen_multipliers(info, library));
  const Multiplier exact = Multiplier::exact("exact", {});
  const std::vector<const Multiplier*> all_exact(chosen.size(), &exact);

  // Two passes over the test data, reported as one "evaluation" stage.
  const auto pass_options = [&](std::size_t pass) {
    EvaluationOptions o = options;
    if (options.on_progress) {
      o.on_progress = [&options, pass](const Progress& p) {
        options.on_progress({p.stage, pass * p.total + p.done, 2 * p.total});
      };
    }
    return o;
  };
  AGNX_ASSIGN_OR_RETURN(const FloatTensor float_logits, model.forward(test_x, options.batch_size));
  AGNX_ASSIGN_OR_RETURN(const FloatTensor quantized_logits,
                        approximate_forward(model, info, all_exact, test_x, pass_options(0)));
  AGNX_ASSIGN_OR_RETURN(const FloatTensor approximate_logits,
                        approximate_forward(model, info, chosen, test_x, pass_options(1)));
  AGNX_ASSIGN_OR_RETURN(const auto f, top1_top5(float_logits, test_y, "float"));
  AGNX_ASSIGN_OR_RETURN(const auto q, top1_top5(quantized_logits, test_y, "quantized"));
  AGNX_ASSIGN_OR_RETURN(const auto a, top1_top5(approximate_logits, test_y, "approximate"));
  return ModelAccuracy{f[0], f[1], q[0], q[1], a[0], a[1]};
}

Status observe_errors(const Model& model, MatchingInfo& info, const MultiplierLibrary& library,
                      const FloatTensor& calibration, const EvaluationOptions& options) {
  at::set_num_threads(static_cast<int>(std::max<std::size_t>(options.num_threads, 1)));
  AGNX_ASSIGN_OR_RETURN(const std::vector<const Multiplier*> chosen, chosen_multipliers(info, library));
  AGNX_ASSIGN_OR_RETURN(std::vector<DeployedLayer> layers, deploy_layers(model, info, chosen));
  ObservePass pass(layers, options.num_threads);
  AGNX_ASSIGN_OR_RETURN(const FloatTensor ignored, run_model(model, pass, calibration, options, "validation"));
  (void)ignored;
  for (std::size_t i = 0; i < info.layers.size(); ++i) {
    LayerInfo& layer = info.layers[i];
    layer.observed_mean = pass.differences(i).mean() / static_cast<double>(layer.fan_in);
    layer.observed_std = pass.differences(i).std();
  }
  return {};
}

}  // namespace agnx
