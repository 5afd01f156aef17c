// A TorchScript model snapshot (torch.jit.save of a scripted or traced model)
// with its layers found as ../shared/spec/matching.md, "Layers in a
// snapshot", defines them: every aten::conv2d, 2-D aten::_convolution and
// aten::linear of the inlined forward graph whose weight is an attribute of
// a submodule, named by that submodule's dotted path, in execution order.
//
// LibTorch stays behind this header: its types appear only in the model
// implementation files. A Model is movable, not copyable, and NOT safe for
// concurrent use; load one per thread or job.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace agnx {

enum class LayerKind { kConv2d, kLinear };

// A conv/linear layer of the model.
struct LayerSite {
  std::string name;  // dotted module path, e.g. "conv1.0"
  LayerKind kind;
};

class Model {
 public:
  // Loads a snapshot. Unreadable, unsupported (no forward, a reused
  // submodule, a frozen snapshot whose weights are constants, transposed or
  // asymmetric 'same' convolutions) or malformed snapshots are errors naming
  // `source` and, where it applies, the layer. Never crashes on bad bytes.
  static Result<Model> load_file(const std::filesystem::path& path);
  static Result<Model> load_bytes(std::string_view bytes, std::string_view source);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const std::string& source() const;
  const std::vector<LayerSite>& layers() const;

  // |stdev| of layer `name`'s submodule: a `stdev` buffer, parameter or
  // attribute holding one number. Errors name the layer: no such layer, no
  // stdev, not a single finite number.
  Result<double> stdev(const std::string& name) const;

  // Sets attribute `attribute` to `value` on every submodule that has it (a
  // tensor keeps its shape and is filled; a float attribute is replaced);
  // returns how many submodules were changed.
  Result<std::size_t> set_all(const std::string& attribute, double value);

  // Sets layer `name`'s `stdev` to |sigma|: an existing stdev tensor is
  // filled, otherwise a 0-d float32 buffer `stdev` is added to the submodule
  // (as examples/train_lenet_agn.py exports it). Errors: an unknown layer, a
  // stdev attribute that is not a tensor.
  Status set_stdev(const std::string& name, double sigma);

  // The snapshot as TorchScript bytes (torch.jit.save format) with its
  // current weights and buffers; torch.jit.load and Model::load_bytes read
  // it back.
  Result<std::string> save_bytes() const;

  // Runs the float model in eval mode on `input` [N, ...] in batches and
  // returns its outputs [N, ...]. Errors name the source and the bad shape.
  Result<FloatTensor> forward(const FloatTensor& input, std::size_t batch_size) const;

  // The implementation, for the capture, deployment and training code
  // (model_internal.h): read-only through a const Model.
  struct Impl;
  const Impl& impl() const { return *impl_; }
  Impl& impl() { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agnx
