// Fashion-MNIST for training tests, from Debian's dataset-fashion-mnist
// package, converted by scripts/fashion_mnist_npy.py into a test's own
// temporary directory (normalized float32 images, int64 labels).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include "core/dataset.h"
#include "core/training.h"
#include "tests/support/temp_dir.h"

namespace agnx::testing {

struct FashionMnist {
  LabelledData train;
  LabelledData test;
};

// The first `train_images` training and `test_images` test images, or
// nullopt when the package is missing (scripts/setup.sh installs it).
inline std::optional<FashionMnist> load_fashion_mnist(std::size_t train_images, std::size_t test_images) {
  const TempDir dir;
  const std::string command = "/usr/bin/python3 " AGNX_SOURCE_DIR "/scripts/fashion_mnist_npy.py --out " +
                              dir.path().string() + " --train-limit " + std::to_string(train_images) +
                              " --test-limit " + std::to_string(test_images) + " > /dev/null";
  if (std::system(command.c_str()) != 0) return std::nullopt;
  FashionMnist data;
  data.train = {*load_inputs(dir.path() / "train_x.npy"), *load_labels(dir.path() / "train_y.npy")};
  data.test = {*load_inputs(dir.path() / "test_x.npy"), *load_labels(dir.path() / "test_y.npy")};
  return data;
}

}  // namespace agnx::testing

#define AGNX_SKIP_WITHOUT_FASHION_MNIST(var, train_images, test_images)                               \
  auto var##_optional = ::agnx::testing::load_fashion_mnist(train_images, test_images);                \
  if (!var##_optional) {                                                                               \
    GTEST_SKIP() << "Fashion-MNIST not found: apt-get install dataset-fashion-mnist python3-numpy " \
                    "(scripts/setup.sh does it)";                                                       \
  }                                                                                                    \
  const ::agnx::testing::FashionMnist& var = *var##_optional
