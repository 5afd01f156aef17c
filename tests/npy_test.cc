#include "core/npy.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/shared_data.h"

namespace agnx {
namespace {

std::string error_of(std::string_view bytes) { return parse_npy(bytes, "x.npy").status().message(); }

std::string header_v1(const std::string& dict) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  return out + header;
}

TEST(Npy, RoundTripsEveryDtype) {
  const std::vector<int64_t> ints{-128, -1, 0, 1, 127, 5};
  for (NpyDtype dtype : {NpyDtype::kInt8, NpyDtype::kInt16, NpyDtype::kInt32, NpyDtype::kInt64}) {
    const NpyArray array = NpyArray::from_int64(dtype, {2, 3}, ints);
    const auto parsed = parse_npy(serialize_npy(array), "mem");
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    EXPECT_EQ(parsed->dtype, dtype);
    EXPECT_EQ(parsed->shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(*parsed->to_int64("mem"), ints);
  }
  const std::vector<int64_t> pixels{0, 1, 128, 254, 255, 7};
  const auto uint8 = parse_npy(serialize_npy(NpyArray::from_int64(NpyDtype::kUInt8, {2, 3}, pixels)), "mem");
  ASSERT_TRUE(uint8.ok()) << uint8.status().to_string();
  EXPECT_EQ(uint8->dtype, NpyDtype::kUInt8);
  EXPECT_EQ(*uint8->to_int64("mem"), pixels);
  EXPECT_EQ(std::string(npy_descr(NpyDtype::kUInt8)), "|u1");
  const std::vector<double> reals{-1.5, 0.25, 1024.0};
  for (NpyDtype dtype : {NpyDtype::kFloat32, NpyDtype::kFloat64}) {
    const auto parsed = parse_npy(serialize_npy(NpyArray::from_double(dtype, {3}, reals)), "mem");
    ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
    EXPECT_EQ(parsed->shape, (std::vector<int64_t>{3}));
    EXPECT_EQ(parsed->to_double(), reals);
    EXPECT_FALSE(parsed->to_int64("mem").ok());
  }
}

TEST(Npy, HeaderIsAlignedAndReadableByNumpyConventions) {
  const std::string bytes = serialize_npy(NpyArray::from_int64(NpyDtype::kInt32, {4}, std::vector<int64_t>{1, 2, 3, 4}));
  const std::size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(bytes[10 + header_len - 1], '\n');
  EXPECT_NE(bytes.find("'shape': (4,)"), std::string::npos);
}

TEST(Npy, ReordersFortranOrderToCOrder) {
  // numpy.asfortranarray([[1, 2, 3], [4, 5, 6]]) stores 1, 4, 2, 5, 3, 6.
  NpyArray fortran = NpyArray::from_int64(NpyDtype::kInt16, {2, 3}, std::vector<int64_t>{1, 4, 2, 5, 3, 6});
  std::string bytes = serialize_npy(fortran);
  bytes.replace(bytes.find("False"), 5, "True ");
  const auto parsed = parse_npy(bytes, "f.npy");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(*parsed->to_int64("f.npy"), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST(Npy, ParsesVersion2AndScalars) {
  std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (), }";
  std::string bytes("\x93NUMPY\x02\x00", 8);
  const uint32_t len = static_cast<uint32_t>(dict.size());
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  bytes += dict;
  const double value = 2.5;
  bytes.append(reinterpret_cast<const char*>(&value), sizeof value);
  const auto parsed = parse_npy(bytes, "v2.npy");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_TRUE(parsed->shape.empty());
  EXPECT_EQ(parsed->to_double(), std::vector<double>{2.5});
}

TEST(Npy, MalformedInputsAreClearErrors) {
  EXPECT_NE(error_of("hello").find("x.npy: not a valid .npy file: missing the \\x93NUMPY magic"), std::string::npos);
  EXPECT_NE(error_of(std::string("\x93NUMPY\x07\x00\x10\x00", 10)).find("unsupported format version 7"),
            std::string::npos);
  EXPECT_NE(error_of(std::string("\x93NUMPY\x01\x00\xff\x00{", 11)).find("header runs past the end"),
            std::string::npos);
  EXPECT_NE(error_of(header_v1("{'descr': '<i4', 'fortran_order': 1, 'shape': (1,), }") + "abcd")
                .find("'fortran_order' must be True or False"),
            std::string::npos);
  EXPECT_NE(error_of(header_v1("{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }") + "abcd")
                .find("unsupported dtype '>i4'"),
            std::string::npos);
  EXPECT_NE(error_of(header_v1("{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }") + "ab")
                .find("unsupported dtype '<u2'"),
            std::string::npos);
  EXPECT_NE(error_of(header_v1("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }") + "abcd")
                .find("payload is 4 bytes, the shape needs 8"),
            std::string::npos);
  EXPECT_NE(error_of(header_v1("{'descr': '<i4', 'fortran_order': False, 'shape': (-1,), }"))
                .find("expected a non-negative dimension"),
            std::string::npos);
  EXPECT_NE(error_of(header_v1("{'descr': '<i4', 'fortran_order': False, 'shape': (99999999999, 99999999999, "
                               "99999999999), }"))
                .find("overflows"),
            std::string::npos);
  EXPECT_NE(error_of(header_v1("{'descr': '<i4', 'fortran_order': False}")).find("lacks"), std::string::npos);
  EXPECT_NE(error_of(header_v1("{'descr': '<i4', 'colour': 3}")).find("unexpected key 'colour'"), std::string::npos);
  EXPECT_NE(error_of(header_v1("['descr']")).find("expected '{'"), std::string::npos);
  // Python's (3) is the number 3, not a tuple: numpy writes a 1-d shape as (3,).
  EXPECT_NE(error_of(header_v1("{'descr': '<i4', 'fortran_order': False, 'shape': (1), }") + "abcd")
                .find("'shape' (1) is a number, not a tuple; a 1-d shape is written (1,)"),
            std::string::npos);
  EXPECT_TRUE(parse_npy(header_v1("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1,), }") + "abcd", "t").ok());
  EXPECT_NE(error_of(header_v1("{'descr: '<i4'")).find("malformed header"), std::string::npos);
}

TEST(Npy, ReadErrorsNameTheFile) {
  const auto missing = read_npy("/nonexistent/dir/a.npy");
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  EXPECT_NE(missing.status().message().find("/nonexistent/dir/a.npy"), std::string::npos);
}

TEST(Npy, WritesAndReadsFiles) {
  const auto path = std::filesystem::temp_directory_path() / ("agnx_npy_test_" + std::to_string(::getpid()) + ".npy");
  const NpyArray array = NpyArray::from_int64(NpyDtype::kInt8, {2, 2}, std::vector<int64_t>{1, -2, 3, -4});
  ASSERT_TRUE(write_npy(path, array).ok());
  const auto read = read_npy(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  EXPECT_EQ(read->data, array.data);
}

TEST(Npy, ReadsTheFixtureArrays) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  const auto calib = read_npy(shared / "models/lenet5_fmnist_calib.npy");
  ASSERT_TRUE(calib.ok()) << calib.status().to_string();
  EXPECT_EQ(calib->dtype, NpyDtype::kFloat32);
  EXPECT_EQ(calib->shape, (std::vector<int64_t>{256, 1, 28, 28}));
  const auto labels = read_npy(shared / "models/lenet5_fmnist_test_y.npy");
  ASSERT_TRUE(labels.ok()) << labels.status().to_string();
  EXPECT_EQ(labels->dtype, NpyDtype::kInt64);
  EXPECT_EQ(labels->shape, (std::vector<int64_t>{2000}));
  for (int64_t label : *labels->to_int64("labels")) {
    EXPECT_GE(label, 0);
    EXPECT_LT(label, 10);
  }
}

}  // namespace
}  // namespace agnx
