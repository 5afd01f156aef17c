#include "core/capture.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>

#include <ATen/Parallel.h>

#include "core/integer_moments.h"
#include "core/layer_math.h"
#include "core/sampling.h"

namespace agnx {
namespace {

// The shape facts of one layer, learned from its first call.
struct LayerGeometry {
  int64_t fan_in = 0;
  int64_t opcount = 0;  // per input sample
  int64_t rows = 0;     // feature rows over all calls
};

// Feature rows of one call: conv rows are (sample, group, output position).
int64_t rows_of(const LayerCall& call, const at::Tensor& output) {
  if (!call.conv) return call.input.numel() / call.weight.size(1);
  return output.size(0) * call.conv->groups * output.size(2) * output.size(3);
}

void check_shapes(const LayerCall& call, const std::string& name) {
  if (call.conv && call.input.dim() != 4) {
    throw std::invalid_argument("layer " + name + ": expected a 4-D input [N, C, H, W], got " +
                                std::to_string(call.input.dim()) + "-D");
  }
  if (!call.conv && call.input.dim() < 2) {
    throw std::invalid_argument("layer " + name + ": expected a batched input [N, ..., features]");
  }
}

// Pass 1: each layer's largest input magnitude and its geometry.
class ScalePass final : public LayerInterceptor {
 public:
  explicit ScalePass(const std::vector<LayerSite>& layers)
      : layers_(layers), max_abs_(layers.size(), 0.0f), geometry_(layers.size()), calls_(layers.size(), 0) {}

  void start_batch() { std::fill(calls_.begin(), calls_.end(), 0); }

  at::Tensor forward(const LayerCall& call) override {
    const std::string& name = layers_[call.layer].name;
    if (calls_[call.layer]++ > 0) throw std::invalid_argument("layer " + name + " runs more than once per forward");
    check_shapes(call, name);
    max_abs_[call.layer] = std::max(max_abs_[call.layer], call.input.abs().max().item<float>());
    at::Tensor output = float_forward(call);
    LayerGeometry& g = geometry_[call.layer];
    g.fan_in = call.weight[0].numel();
    g.opcount = opcount_per_sample(call, output);
    g.rows += rows_of(call, output);
    return output;
  }

  float input_scale(std::size_t layer) const { return quantization_scale(max_abs_[layer]); }
  const LayerGeometry& geometry(std::size_t layer) const { return geometry_[layer]; }

 private:
  const std::vector<LayerSite>& layers_;
  std::vector<float> max_abs_;
  std::vector<LayerGeometry> geometry_;
  std::vector<int> calls_;
};

// What pass 2 accumulates for one layer.
struct FeatureState {
  float input_scale = 1.0f;
  float weight_scale = 1.0f;
  at::Tensor weight_q;         // quantized weights (float32 holding integers)
  at::Tensor weight_q_double;  // the same in float64, for exact integer outputs
  std::array<int64_t, kOperandValues> histogram{};
  IntegerMoments outputs;
  int64_t rows_seen = 0;
  std::vector<uint64_t> drawn;                          // the sample rows, in draw order
  std::vector<std::pair<uint64_t, std::size_t>> wanted;  // (row, position in the draw), sorted by row
  std::size_t next_wanted = 0;
  Int8Matrix sample;
};

void add_histogram(std::array<int64_t, kOperandValues>& histogram, const at::Tensor& quantized) {
  const at::Tensor counts = at::bincount(quantized.reshape({-1}).to(torch::kLong) + 128, {}, kOperandValues);
  const int64_t* c = counts.data_ptr<int64_t>();
  for (std::size_t i = 0; i < kOperandValues; ++i) histogram[i] += c[i];
}

// Pass 2: quantized features, exact integer outputs, histograms, samples.
class FeaturePass final : public LayerInterceptor {
 public:
  explicit FeaturePass(std::vector<FeatureState>& states) : states_(states) {}

  at::Tensor forward(const LayerCall& call) override {
    FeatureState& state = states_[call.layer];
    const at::Tensor x = quantize(call.input, state.input_scale);
    const at::Tensor y = exact_outputs(call, x, state.weight_q_double).contiguous();
    const double* values = y.data_ptr<double>();
    for (int64_t i = 0; i < y.numel(); ++i) state.outputs.add(std::llround(values[i]));
    if (call.conv) {
      const ReceptiveFields fields(x, *call.conv, call.weight.size(2), call.weight.size(3), y.size(2), y.size(3));
      // Every feature-row element, once per receptive field it falls in.
      for (int64_t i = 0; i < call.weight.size(2); ++i)
        for (int64_t j = 0; j < call.weight.size(3); ++j) add_histogram(state.histogram, fields.offset_view(i, j));
      take_samples(state, fields.rows(), [&](int64_t row, int8_t* out) { fields.copy_row(row, out); });
    } else {
      const at::Tensor rows = x.reshape({-1, call.weight.size(1)}).to(torch::kInt8).contiguous();
      add_histogram(state.histogram, rows);
      take_samples(state, rows.size(0), [&](int64_t row, int8_t* out) {
        std::memcpy(out, rows.data_ptr<int8_t>() + row * rows.size(1), static_cast<std::size_t>(rows.size(1)));
      });
    }
    return float_forward(call);
  }

 private:
  // Copies the wanted rows among this call's `count` rows into the sample.
  template <typename CopyRow>
  void take_samples(FeatureState& state, int64_t count, CopyRow&& copy_row) {
    const auto end = static_cast<uint64_t>(state.rows_seen + count);
    for (; state.next_wanted < state.wanted.size() && state.wanted[state.next_wanted].first < end;
         ++state.next_wanted) {
      const auto [row, position] = state.wanted[state.next_wanted];
      copy_row(static_cast<int64_t>(row) - state.rows_seen, state.sample.values.data() + position * state.sample.cols);
    }
    state.rows_seen += count;
  }

  std::vector<FeatureState>& states_;
};

template <typename Pass>
Status run_batches(const Model& model, const FloatTensor& calibration, const CaptureOptions& options,
                   const std::string& stage, Pass& pass) {
  const auto batch = static_cast<int64_t>(std::max<std::size_t>(options.batch_size, 1));
  const auto total = static_cast<std::size_t>((calibration.batch() + batch - 1) / batch);
  for (int64_t first = 0, done = 0; first < calibration.batch(); first += batch) {
    if constexpr (requires { pass.start_batch(); }) pass.start_batch();
    AGNX_ASSIGN_OR_RETURN(const at::Tensor ignored,
                          model.impl().run(batch_of(calibration, first, std::min(batch, calibration.batch() - first)),
                                           pass));
    (void)ignored;
    if (options.on_progress) options.on_progress({stage, static_cast<std::size_t>(++done), total});
  }
  return {};
}

Status validate_options(const Model& model, const CaptureOptions& options) {
  std::set<std::string> names;
  for (const auto& layer : model.layers()) names.insert(layer.name);
  for (const auto& [name, sigma] : options.sigma) {
    if (!names.contains(name)) return Status::not_found("sigma given for unknown layer " + name);
    if (!std::isfinite(sigma)) return Status::invalid_argument("sigma of layer " + name + " is not a finite number");
  }
  for (const auto& [name, rows] : options.sample_rows) {
    if (!names.contains(name)) return Status::not_found("sample_rows given for unknown layer " + name);
  }
  if (options.num_samples == 0) return Status::invalid_argument("num_samples must be at least 1");
  return {};
}

Result<double> sigma_of(const Model& model, const CaptureOptions& options, const std::string& layer) {
  const auto given = options.sigma.find(layer);
  if (given != options.sigma.end()) return std::abs(given->second);
  return model.stdev(layer);
}

Result<FeatureState> prepare_state(const Model& model, const CaptureOptions& options, const ScalePass& scales,
                                   std::size_t index) {
  const LayerSite& site = model.layers()[index];
  const LayerGeometry& geometry = scales.geometry(index);
  if (geometry.rows == 0) return Status::failed_precondition("layer " + site.name + " never ran on the calibration data");
  FeatureState state;
  state.input_scale = scales.input_scale(index);
  const at::Tensor weight = model.impl().submodule(site.name).attr("weight").toTensor().detach();
  state.weight_scale = quantization_scale(weight.abs().max().item<float>());
  state.weight_q = quantize(weight, state.weight_scale);
  state.weight_q_double = state.weight_q.to(torch::kFloat64);
  const auto injected = options.sample_rows.find(site.name);
  state.drawn = injected != options.sample_rows.end()
                    ? injected->second
                    : draw_sample_rows(static_cast<uint64_t>(geometry.rows), options.num_samples, options.seed, index);
  for (std::size_t k = 0; k < state.drawn.size(); ++k) {
    if (state.drawn[k] >= static_cast<uint64_t>(geometry.rows)) {
      return Status::invalid_argument("layer " + site.name + ": sample row " + std::to_string(state.drawn[k]) +
                                      " is outside its " + std::to_string(geometry.rows) + " rows");
    }
    state.wanted.emplace_back(state.drawn[k], k);
  }
  std::sort(state.wanted.begin(), state.wanted.end());
  const auto fan_in = static_cast<std::size_t>(geometry.fan_in);
  state.sample = {state.drawn.size(), fan_in, std::vector<int8_t>(state.drawn.size() * fan_in)};
  return state;
}

Result<LayerCapture> finish_layer(const Model& model, const CaptureOptions& options, const ScalePass& scales,
                                  std::size_t index, FeatureState& state) {
  const LayerSite& site = model.layers()[index];
  LayerCapture capture;
  capture.stats.name = site.name;
  capture.stats.fan_in = scales.geometry(index).fan_in;
  capture.stats.opcount = scales.geometry(index).opcount;
  AGNX_ASSIGN_OR_RETURN(capture.stats.sigma, sigma_of(model, options, site.name));
  capture.stats.out_std = state.outputs.std();
  const at::Tensor weights = state.weight_q.to(torch::kInt8).contiguous();
  capture.stats.w_dist = operand_distribution({weights.data_ptr<int8_t>(), static_cast<std::size_t>(weights.numel())});
  capture.stats.sample_features = std::move(state.sample);
  capture.stats.sample_rows = std::move(state.drawn);
  capture.rows = scales.geometry(index).rows;
  int64_t elements = 0;
  for (int64_t count : state.histogram) elements += count;
  for (std::size_t i = 0; i < kOperandValues; ++i) {
    capture.x_dist_global[i] = static_cast<double>(state.histogram[i]) / static_cast<double>(elements);
  }
  capture.input_scale = state.input_scale;
  capture.weight_scale = state.weight_scale;
  return capture;
}

}  // namespace

Result<std::vector<LayerCapture>> capture_layers(const Model& model, const FloatTensor& calibration,
                                                 const CaptureOptions& options) {
  if (calibration.batch() == 0) return Status::invalid_argument("the calibration data is empty");
  AGNX_RETURN_IF_ERROR(validate_options(model, options));
  at::set_num_threads(static_cast<int>(std::max<std::size_t>(options.num_threads, 1)));
  torch::NoGradGuard no_grad;

  ScalePass scales(model.layers());
  AGNX_RETURN_IF_ERROR(run_batches(model, calibration, options, "scales", scales));
  std::vector<FeatureState> states;
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    AGNX_ASSIGN_OR_RETURN(FeatureState state, prepare_state(model, options, scales, i));
    states.push_back(std::move(state));
  }
  FeaturePass features(states);
  AGNX_RETURN_IF_ERROR(run_batches(model, calibration, options, "features", features));

  std::vector<LayerCapture> captures;
  for (std::size_t i = 0; i < states.size(); ++i) {
    AGNX_ASSIGN_OR_RETURN(LayerCapture capture, finish_layer(model, options, scales, i, states[i]));
    captures.push_back(std::move(capture));
  }
  return captures;
}

Result<MatchingInfo> select_multipliers(const Model& model, const FloatTensor& calibration,
                                        const MultiplierLibrary& library, const CaptureOptions& options) {
  AGNX_ASSIGN_OR_RETURN(std::vector<LayerCapture> captures, capture_layers(model, calibration, options));
  std::vector<LayerStats> stats;
  for (const auto& capture : captures) stats.push_back(capture.stats);
  if (options.on_progress) options.on_progress({"selection", 0, 1});
  AGNX_ASSIGN_OR_RETURN(MatchingInfo info, select_multipliers(stats, library, {.num_threads = options.num_threads}));
  if (options.on_progress) options.on_progress({"selection", 1, 1});
  info.seed = options.seed;
  info.num_samples = options.num_samples;
  for (std::size_t i = 0; i < captures.size(); ++i) {
    LayerInfo& layer = info.layers[i];
    layer.rows = captures[i].rows;
    layer.input_scale = captures[i].input_scale;
    layer.weight_scale = captures[i].weight_scale;
    layer.x_dist_global.assign(captures[i].x_dist_global.begin(), captures[i].x_dist_global.end());
  }
  return info;
}

}  // namespace agnx
