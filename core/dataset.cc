#include "core/dataset.h"

#include <torch/script.h>
#include <torch/serialize.h>

#include <cmath>

#include "core/file_contents.h"
#include "core/model_internal.h"
#include "core/npy.h"

namespace agnx {
namespace {

bool is_npy(std::string_view bytes) { return bytes.substr(0, 6) == "\x93NUMPY"; }
bool is_torch_zip(std::string_view bytes) { return bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4); }

Status unknown_format(std::string_view source) {
  return Status::invalid_argument(std::string(source) +
                                  ": unknown format; expected a .npy file or a .pt file written by torch.save(tensor)");
}

Result<at::Tensor> parse_torch_tensor(std::string_view bytes, std::string_view source) {
  at::Tensor tensor;
  const Status status = guard_torch([&]() -> Status {
    const c10::IValue value = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
    if (!value.isTensor()) return Status::invalid_argument("holds a " + value.tagKind() + ", not a tensor");
    tensor = value.toTensor().contiguous();
    return {};
  });
  if (!status.ok()) return status.with_context(std::string(source));
  return tensor;
}

Status check_finite(const FloatTensor& tensor, std::string_view source) {
  for (std::size_t i = 0; i < tensor.values.size(); ++i) {
    if (!std::isfinite(tensor.values[i])) {
      return Status::invalid_argument(std::string(source) + ": value " + std::to_string(i) + " is not finite");
    }
  }
  return {};
}

}  // namespace

Result<FloatTensor> parse_inputs(std::string_view bytes, std::string_view source,
                                 const std::optional<Uint8Normalization>& uint8) {
  if (!is_npy(bytes)) return parse_inputs(bytes, source);
  AGNX_ASSIGN_OR_RETURN(const NpyArray array, parse_npy(bytes, source));
  if (array.dtype != NpyDtype::kUInt8) return parse_inputs(bytes, source);
  if (!uint8) {
    return Status::invalid_argument(std::string(source) +
                                    ": uint8 images need a normalization (scale, mean, std) to become model inputs");
  }
  const Uint8Normalization& n = *uint8;
  if (!std::isfinite(n.scale) || !std::isfinite(n.mean) || !std::isfinite(n.std) || n.scale <= 0.0 || n.std <= 0.0) {
    return Status::invalid_argument(std::string(source) + ": the uint8 normalization must be finite, scale and std > 0");
  }
  if (array.shape.empty() || array.shape.front() == 0) {
    return Status::invalid_argument(std::string(source) + ": inputs need a non-empty batch dimension");
  }
  FloatTensor tensor{array.shape, {}};
  const std::vector<double> pixels = array.to_double();
  tensor.values.reserve(pixels.size());
  for (const double p : pixels) tensor.values.push_back(static_cast<float>((p * n.scale - n.mean) / n.std));
  return tensor;
}

Result<FloatTensor> parse_inputs(std::string_view bytes, std::string_view source) {
  FloatTensor tensor;
  if (is_npy(bytes)) {
    AGNX_ASSIGN_OR_RETURN(const NpyArray array, parse_npy(bytes, source));
    if (array.is_integer()) {
      return Status::invalid_argument(std::string(source) + ": inputs must be float32 or float64, got " +
                                      npy_descr(array.dtype));
    }
    tensor.shape = array.shape;
    const std::vector<double> values = array.to_double();
    tensor.values.assign(values.begin(), values.end());
  } else if (is_torch_zip(bytes)) {
    AGNX_ASSIGN_OR_RETURN(const at::Tensor t, parse_torch_tensor(bytes, source));
    if (!t.is_floating_point()) {
      return Status::invalid_argument(std::string(source) + ": inputs must be a float tensor, got " +
                                      std::string(c10::toString(t.scalar_type())));
    }
    const at::Tensor values = t.to(torch::kFloat32).contiguous();
    tensor.shape = values.sizes().vec();
    tensor.values.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
  } else {
    return unknown_format(source);
  }
  if (tensor.shape.empty() || tensor.batch() == 0) {
    return Status::invalid_argument(std::string(source) + ": inputs need a non-empty batch dimension");
  }
  AGNX_RETURN_IF_ERROR(check_finite(tensor, source));
  return tensor;
}

Result<FloatTensor> load_inputs(const std::filesystem::path& path) {
  AGNX_ASSIGN_OR_RETURN(const std::string bytes, read_file(path));
  return parse_inputs(bytes, path.string());
}

Result<std::vector<int64_t>> parse_labels(std::string_view bytes, std::string_view source) {
  std::vector<int64_t> labels;
  std::size_t rank = 0;
  if (is_npy(bytes)) {
    AGNX_ASSIGN_OR_RETURN(const NpyArray array, parse_npy(bytes, source));
    rank = array.shape.size();
    AGNX_ASSIGN_OR_RETURN(labels, array.to_int64(source));
  } else if (is_torch_zip(bytes)) {
    AGNX_ASSIGN_OR_RETURN(const at::Tensor t, parse_torch_tensor(bytes, source));
    if (t.is_floating_point() || t.is_complex()) {
      return Status::invalid_argument(std::string(source) + ": labels must be integers");
    }
    rank = static_cast<std::size_t>(t.dim());
    const at::Tensor values = t.to(torch::kInt64).contiguous();
    labels.assign(values.data_ptr<int64_t>(), values.data_ptr<int64_t>() + values.numel());
  } else {
    return unknown_format(source);
  }
  if (rank != 1) return Status::invalid_argument(std::string(source) + ": labels must be a 1-D tensor");
  return labels;
}

Result<std::vector<int64_t>> load_labels(const std::filesystem::path& path) {
  AGNX_ASSIGN_OR_RETURN(const std::string bytes, read_file(path));
  return parse_labels(bytes, path.string());
}

}  // namespace agnx
