#include "core/matching_json.h"

#include <nlohmann/json.hpp>

namespace agnx {
namespace {

using nlohmann::json;

json candidate_to_json(const CandidatePrediction& c) {
  return {{"name", c.name}, {"metric", c.metric}, {"mean", c.mean}, {"std", c.std}};
}

json layer_to_json(const MatchingInfo& info, std::size_t i) {
  const LayerInfo& layer = info.layers[i];
  json out = {
      {"name", layer.name},
      {"multiplier_name", layer.multiplier_name},
      {"multiplier_performance_metric", layer.multiplier_performance_metric},
      {"opcount", layer.opcount},
      {"fan_in", layer.fan_in},
      {"sigma", layer.sigma},
      {"out_std", layer.out_std},
      {"max_std", layer.max_std},
      {"mul_std", layer.mul_std},
      {"relative_opcount", info.relative_opcount(i)},
      {"relative_energy_consumption", info.relative_energy_consumption(i)},
  };
  if (layer.rows) out["rows"] = *layer.rows;
  if (layer.input_scale) out["input_scale"] = *layer.input_scale;
  if (layer.weight_scale) out["weight_scale"] = *layer.weight_scale;
  if (layer.observed_mean) out["observed_mean"] = *layer.observed_mean;
  if (layer.observed_std) out["observed_std"] = *layer.observed_std;
  out["candidates"] = json::array();
  for (const auto& c : layer.candidates) out["candidates"].push_back(candidate_to_json(c));
  out["sample_rows"] = layer.sample_rows;
  if (!layer.w_dist.empty()) out["w_dist"] = layer.w_dist;
  if (!layer.x_dist_global.empty()) out["x_dist_global"] = layer.x_dist_global;
  return out;
}

// Reads typed fields of one JSON object; the first failure is kept, naming
// the field by its path.
class FieldReader {
 public:
  FieldReader(const json& object, std::string path, Status& status)
      : object_(object), path_(std::move(path)), status_(status) {
    if (status_.ok() && !object_.is_object()) fail(path_.empty() ? "the document" : path_, "expected an object");
  }

  template <typename T>
  void read(const char* key, T& out) {
    const json* value = find(key);
    if (value) convert(*value, name(key), out);
  }
  template <typename T>
  void read_optional(const char* key, std::optional<T>& out) {
    if (!status_.ok() || !object_.is_object() || !object_.contains(key)) return;
    T value{};
    convert(object_.at(key), name(key), value);
    out = value;
  }
  // Like read() for a vector, leaving it empty when `key` is absent.
  template <typename T>
  void read_or_empty(const char* key, std::vector<T>& out) {
    if (status_.ok() && object_.is_object() && object_.contains(key)) convert(object_.at(key), name(key), out);
  }
  // The array at `key`, or nullptr after recording an error.
  const json* array(const char* key) {
    const json* value = find(key);
    if (value && !value->is_array()) {
      fail(name(key), "expected an array");
      return nullptr;
    }
    return value;
  }
  std::string name(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const json* find(const char* key) {
    if (!status_.ok() || !object_.is_object()) return nullptr;
    const auto it = object_.find(key);
    if (it == object_.end()) {
      fail(name(key), "missing");
      return nullptr;
    }
    return &*it;
  }
  void fail(const std::string& field, const std::string& what) {
    if (status_.ok()) status_ = Status::invalid_argument(field + ": " + what);
  }
  void convert(const json& value, const std::string& field, std::string& out) {
    if (!value.is_string()) return fail(field, "expected a string");
    out = value.get<std::string>();
  }
  void convert(const json& value, const std::string& field, double& out) {
    if (!value.is_number()) return fail(field, "expected a number");
    out = value.get<double>();
  }
  template <typename Int>
    requires std::is_integral_v<Int>
  void convert(const json& value, const std::string& field, Int& out) {
    if (!value.is_number_integer()) return fail(field, "expected an integer");
    if constexpr (std::is_unsigned_v<Int>) {
      if (!value.is_number_unsigned()) return fail(field, "expected a non-negative integer");
    }
    out = value.get<Int>();
  }
  template <typename T>
  void convert(const json& value, const std::string& field, std::vector<T>& out) {
    if (!value.is_array()) return fail(field, "expected an array");
    out.resize(value.size());
    for (std::size_t i = 0; i < out.size() && status_.ok(); ++i) {
      convert(value[i], field + "[" + std::to_string(i) + "]", out[i]);
    }
  }

  const json& object_;
  std::string path_;
  Status& status_;
};

// json::parse's document builder, except that a number too small for a
// double ("1e-400", which nlohmann reads as 0) stops the parse.
class StrictDomParser : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  explicit StrictDomParser(json& document) : json_sax_dom_parser(document, /*allow_exceptions=*/false) {}

  bool number_float(json::number_float_t value, const std::string& text) {
    if (value == 0.0 && text.find_first_of("123456789") < text.find_first_of("eE")) {
      underflow_ = text;
      return false;
    }
    return json_sax_dom_parser::number_float(value, text);
  }
  const std::string& underflow() const { return underflow_; }

 private:
  std::string underflow_;
};

Result<json> parse_strictly(std::string_view text) {
  json document;
  StrictDomParser parser(document);
  const bool parsed = json::sax_parse(text, &parser);
  if (!parser.underflow().empty()) {
    return Status::invalid_argument("MatchingInfo JSON: '" + parser.underflow() + "' is beyond the range of a double");
  }
  if (!parsed || parser.is_errored()) return Status::invalid_argument("MatchingInfo JSON does not parse");
  return document;
}

}  // namespace

std::string matching_info_to_json(const MatchingInfo& info, int indent) {
  json out = {
      {"library", info.library},
      {"metric", info.metric},
      {"metric_max", info.metric_max},
      {"opcount", info.opcount()},
      {"relative_energy_consumption", info.relative_energy_consumption()},
  };
  if (info.seed) out["seed"] = *info.seed;
  if (info.num_samples) out["num_samples"] = *info.num_samples;
  if (info.accuracy) {
    const ModelAccuracy& a = *info.accuracy;
    out["accuracy"] = {{"float_top1", a.float_top1},         {"float_top5", a.float_top5},
                       {"quantized_top1", a.quantized_top1}, {"quantized_top5", a.quantized_top5},
                       {"approximate_top1", a.approximate_top1}, {"approximate_top5", a.approximate_top5}};
  }
  out["layers"] = json::array();
  for (std::size_t i = 0; i < info.layers.size(); ++i) out["layers"].push_back(layer_to_json(info, i));
  return out.dump(indent);
}

Result<MatchingInfo> matching_info_from_json(std::string_view text) {
  AGNX_ASSIGN_OR_RETURN(const json document, parse_strictly(text));
  Status status;
  MatchingInfo info;
  FieldReader top(document, "", status);
  top.read("library", info.library);
  top.read("metric", info.metric);
  top.read("metric_max", info.metric_max);
  top.read_optional("seed", info.seed);
  top.read_optional("num_samples", info.num_samples);
  if (document.is_object() && document.contains("accuracy")) {
    ModelAccuracy a;
    FieldReader in(document.at("accuracy"), "accuracy", status);
    in.read("float_top1", a.float_top1);
    in.read("float_top5", a.float_top5);
    in.read("quantized_top1", a.quantized_top1);
    in.read("quantized_top5", a.quantized_top5);
    in.read("approximate_top1", a.approximate_top1);
    in.read("approximate_top5", a.approximate_top5);
    info.accuracy = a;
  }
  const json* layers = top.array("layers");
  for (std::size_t i = 0; layers && status.ok() && i < layers->size(); ++i) {
    LayerInfo layer;
    FieldReader in((*layers)[i], "layers[" + std::to_string(i) + "]", status);
    in.read("name", layer.name);
    in.read("multiplier_name", layer.multiplier_name);
    in.read("multiplier_performance_metric", layer.multiplier_performance_metric);
    in.read("opcount", layer.opcount);
    in.read("fan_in", layer.fan_in);
    in.read("sigma", layer.sigma);
    in.read("out_std", layer.out_std);
    in.read("max_std", layer.max_std);
    in.read("mul_std", layer.mul_std);
    in.read_optional("rows", layer.rows);
    in.read_optional("input_scale", layer.input_scale);
    in.read_optional("weight_scale", layer.weight_scale);
    in.read_or_empty("w_dist", layer.w_dist);
    in.read_or_empty("x_dist_global", layer.x_dist_global);
    in.read_optional("observed_mean", layer.observed_mean);
    in.read_optional("observed_std", layer.observed_std);
    in.read("sample_rows", layer.sample_rows);
    const json* candidates = in.array("candidates");
    for (std::size_t j = 0; candidates && status.ok() && j < candidates->size(); ++j) {
      CandidatePrediction c;
      FieldReader cin((*candidates)[j], in.name("candidates[" + std::to_string(j) + "]"), status);
      cin.read("name", c.name);
      cin.read("metric", c.metric);
      cin.read("mean", c.mean);
      cin.read("std", c.std);
      layer.candidates.push_back(std::move(c));
    }
    info.layers.push_back(std::move(layer));
  }
  if (!status.ok()) return status;
  return info;
}

}  // namespace agnx
