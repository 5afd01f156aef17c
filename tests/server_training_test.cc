// agnx-server's Training service end to end, on a real server with real
// model workers and LeNet5 (small data: the 2,000 labelled test images of
// ../shared serve as training data): a search logs its epochs and stores the
// model with its sigma; a sweep makes one child per lambda, survives a
// SIGKILL without a duplicate child and reports its front; a retrain of a
// matched run recovers; cancel ends a job within 2 s; bad input is named.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/model.h"
#include "core/npy.h"
#include "tests/support/server_process.h"
#include "tests/support/shared_data.h"
#include "tests/support/temp_dir.h"
#include "tests/support/training_client.h"

namespace agnx {
namespace {

namespace pb = ::agnapprox::v1;
using testing::lenet_training;
using testing::read_file;
using testing::TrainingClient;
using testing::TrainingInputs;

pb::TrainingHeader header(const std::string& kind, std::vector<double> lambdas) {
  pb::TrainingHeader h;
  h.set_kind(kind);
  h.set_experiment("training");
  h.set_run_name(kind);
  for (const double l : lambdas) h.add_lambdas(l);
  h.set_search_epochs(1);
  h.set_retrain_epochs(1);
  h.set_num_samples(64);
  h.set_seed(5);
  return h;
}

class ServerTraining : public ::testing::Test {
 protected:
  void start() {
    auto started = testing::ServerProcess::start(AGNX_SERVER_BINARY, dir_.path() / "data",
                                                 {"--threads-per-job", "2"});
    ASSERT_TRUE(started.ok()) << started.status().to_string();
    server_ = std::move(*started);
    client_ = std::make_unique<TrainingClient>(server_->address());
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<TrainingClient> client_;
};

TEST_F(ServerTraining, ASearchLogsItsEpochsAndStoresTheModelWithItsSigma) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  ASSERT_NO_FATAL_FAILURE(start());
  pb::SubmitMatchingResponse submitted;
  auto h = header("search", {0.5});
  h.set_search_epochs(2);
  const grpc::Status status = client_->submit(h, lenet_training(shared), &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<std::string> stages;
  const pb::JobProgress final = client_->matching().watch(submitted.job_id(), &stages);
  ASSERT_EQ(final.state(), "SUCCEEDED") << final.message();
  EXPECT_NE(std::find(stages.begin(), stages.end(), "search"), stages.end());

  const auto sigma = client_->history(submitted.run_id(), "search.sigma.conv2.0");
  ASSERT_EQ(sigma.size(), 2u);
  EXPECT_EQ(sigma[0].step(), 1);
  EXPECT_EQ(sigma[1].step(), 2);
  EXPECT_EQ(client_->history(submitted.run_id(), "search.loss").size(), 2u);
  const pb::Run run = client_->run(submitted.run_id());
  EXPECT_EQ(run.info().status(), "FINISHED");
  EXPECT_EQ(run.params().at("lambda"), "0.5");

  const std::string model = client_->artifact(submitted.run_id(), "model/trained.pt");
  const Model trained = *Model::load_bytes(model, "trained");
  EXPECT_NEAR(*trained.stdev("conv2.0"), sigma[1].value(), 1e-6);

  // Python's torch.jit.load reads it too, stdev buffers included (Debian's python3-torch).
  const auto file = dir_.path() / "trained.pt";
  std::ofstream(file, std::ios::binary) << model;
  const auto output = dir_.path() / "stdev.txt";
  const std::string python = "/usr/bin/python3 -c \"import sys, torch; m = torch.jit.load(sys.argv[1]); "
                             "print(float(dict(m.named_buffers())['conv2.0.stdev']))\" " +
                             file.string() + " > " + output.string() + " 2>&1";
  ASSERT_EQ(std::system(python.c_str()), 0) << read_file(output);
  EXPECT_NEAR(std::stod(read_file(output)), sigma[1].value(), 1e-6);
}

TEST_F(ServerTraining, ASweepSurvivesASigkillWithoutADuplicateChildAndReportsItsFront) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  ASSERT_NO_FATAL_FAILURE(start());
  pb::SubmitMatchingResponse submitted;
  ASSERT_TRUE(client_->submit(header("sweep", {0.25, 2.0}), lenet_training(shared), &submitted).ok());

  // Kill the server while the second lambda trains.
  for (bool second = false; !second;) {
    grpc::ClientContext context;
    pb::GetJobRequest request;
    request.set_job_id(submitted.job_id());
    auto reader = client_->matching().stub().WatchJob(&context, request);
    for (pb::JobProgress p; reader->Read(&p);) {
      ASSERT_FALSE(p.final()) << "the sweep ended before the second lambda: " << p.message();
      if (p.point() == 2 && p.stage() == "search") {
        second = true;
        break;
      }
    }
    context.TryCancel();
  }
  server_->kill_and_wait(SIGKILL);
  server_.reset();
  ASSERT_NO_FATAL_FAILURE(start());
  const pb::JobProgress final = client_->matching().watch(submitted.job_id());
  ASSERT_EQ(final.state(), "SUCCEEDED") << final.message();

  std::map<std::string, int> children;  // sweep index -> runs
  for (const pb::Run& run : client_->runs("training")) {
    const auto& tags = run.tags();
    if (tags.count("mlflow.parentRunId") && tags.at("mlflow.parentRunId") == submitted.run_id()) {
      ++children[tags.at("agnx.sweep_index")];
      EXPECT_EQ(run.info().status(), "FINISHED");
    }
  }
  EXPECT_EQ(children, (std::map<std::string, int>{{"0", 1}, {"1", 1}}));

  const pb::Sweep sweep = client_->sweep(submitted.run_id());
  ASSERT_EQ(sweep.points_size(), 2);
  EXPECT_EQ(sweep.points(0).lambda(), 0.25);
  EXPECT_EQ(sweep.points(1).lambda(), 2.0);
  for (const pb::SweepPoint& p : sweep.points()) {
    EXPECT_GT(p.relative_energy(), 0.0);
    EXPECT_LE(p.relative_energy(), 1.0);
    EXPECT_GT(p.top1().retrained(), 0.5) << p.lambda();
    EXPECT_EQ(p.sigma_size(), 5);
  }
  EXPECT_GE(sweep.pareto_size(), 1);
  const auto summary = nlohmann::json::parse(sweep.json());
  EXPECT_EQ(summary.at("points").size(), 2u);
}

TEST_F(ServerTraining, RetrainingAMatchedRunRecoversItsAccuracy) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  ASSERT_NO_FATAL_FAILURE(start());
  const TrainingInputs inputs = lenet_training(shared, "lenet5_fmnist_stdev.pt");
  pb::MatchingHeader match;
  match.set_experiment("training");
  match.set_num_samples(128);
  pb::SubmitMatchingResponse matched;
  ASSERT_TRUE(client_->matching()
                  .submit(match, {inputs.model, inputs.calibration, inputs.test_x, inputs.test_y}, &matched)
                  .ok());
  ASSERT_EQ(client_->matching().watch(matched.job_id()).state(), "SUCCEEDED");

  auto h = header("retrain", {});
  h.set_source_run(matched.run_id());
  h.set_retrain_epochs(2);
  pb::SubmitMatchingResponse submitted;
  const grpc::Status status = client_->submit(h, {"", inputs.train_x, inputs.train_y, "", inputs.test_x, inputs.test_y},
                                              &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const pb::JobProgress final = client_->matching().watch(submitted.job_id());
  ASSERT_EQ(final.state(), "SUCCEEDED") << final.message();
  pb::MatchingResult before, after;
  ASSERT_TRUE(client_->matching().result(matched.run_id(), &before).ok());
  ASSERT_TRUE(client_->matching().result(submitted.run_id(), &after).ok());
  EXPECT_EQ(client_->history(submitted.run_id(), "retrain.test_top1").size(), 2u);
  EXPECT_GE(after.info().accuracy().approximate_top1(), before.info().accuracy().approximate_top1());
  for (int i = 0; i < before.info().layers_size(); ++i) {
    EXPECT_EQ(after.info().layers(i).multiplier_name(), before.info().layers(i).multiplier_name());
  }
}

TEST_F(ServerTraining, CancelEndsARunningJobWithinTwoSeconds) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  ASSERT_NO_FATAL_FAILURE(start());
  auto h = header("search", {0.5});
  h.set_search_epochs(50);
  pb::SubmitMatchingResponse submitted;
  ASSERT_TRUE(client_->submit(h, lenet_training(shared), &submitted).ok());
  grpc::ClientContext context;
  pb::GetJobRequest request;
  request.set_job_id(submitted.job_id());
  auto reader = client_->matching().stub().WatchJob(&context, request);
  pb::JobProgress p;
  while (reader->Read(&p) && !(p.stage() == "search" && p.epoch() >= 1)) {
  }
  ASSERT_EQ(p.stage(), "search");
  const auto asked = std::chrono::steady_clock::now();
  grpc::ClientContext cancel_context;
  pb::Job job;
  ASSERT_TRUE(client_->matching().stub().CancelJob(&cancel_context, request, &job).ok());
  while (reader->Read(&p) && !p.final()) {
  }
  context.TryCancel();
  const auto waited = std::chrono::steady_clock::now() - asked;
  EXPECT_EQ(p.state(), "CANCELLED");
  EXPECT_LT(waited, std::chrono::seconds(2));
  EXPECT_EQ(client_->run(submitted.run_id()).info().status(), "KILLED");
}

// The shared test images as the uint8 pixels they were normalized from.
std::string as_uint8_pixels(const std::string& float_npy) {
  const NpyArray images = *parse_npy(float_npy, "test_x");
  std::vector<int64_t> pixels;
  for (const double x : images.to_double()) pixels.push_back(std::llround((x * 0.3530 + 0.2860) * 255.0));
  return serialize_npy(NpyArray::from_int64(NpyDtype::kUInt8, images.shape, pixels));
}

TEST_F(ServerTraining, Uint8ImagesTrainWithTheirNormalization) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  ASSERT_NO_FATAL_FAILURE(start());
  TrainingInputs inputs = lenet_training(shared);
  inputs.train_x = as_uint8_pixels(inputs.train_x);
  inputs.test_x.clear();
  inputs.test_y.clear();
  EXPECT_LT(inputs.train_x.size() * 3, read_file(shared / "models/lenet5_fmnist_test_x.npy").size());
  pb::SubmitMatchingResponse submitted;
  auto h = header("search", {0.5});
  grpc::Status status = client_->submit(h, inputs, &submitted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("train_x: uint8 images need a normalization"), std::string::npos)
      << status.error_message();
  h.mutable_uint8_inputs()->set_scale(1.0 / 255.0);
  h.mutable_uint8_inputs()->set_mean(0.2860);
  h.mutable_uint8_inputs()->set_std(0.3530);
  status = client_->submit(h, inputs, &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const pb::JobProgress final = client_->matching().watch(submitted.job_id());
  ASSERT_EQ(final.state(), "SUCCEEDED") << final.message();
  // The same images as float32 train the same model: the same first-epoch loss.
  const auto uint8_loss = client_->history(submitted.run_id(), "search.loss");
  pb::SubmitMatchingResponse as_float;
  ASSERT_TRUE(client_->submit(header("search", {0.5}), lenet_training(shared), &as_float).ok());
  ASSERT_EQ(client_->matching().watch(as_float.job_id()).state(), "SUCCEEDED");
  const auto float_loss = client_->history(as_float.run_id(), "search.loss");
  ASSERT_EQ(uint8_loss.size(), 1u);
  ASSERT_EQ(float_loss.size(), 1u);
  EXPECT_NEAR(uint8_loss[0].value(), float_loss[0].value(), 1e-3);
}

TEST_F(ServerTraining, BadInputIsRefusedNamingIt) {
  AGNX_SKIP_WITHOUT_SHARED(shared);
  ASSERT_NO_FATAL_FAILURE(start());
  const TrainingInputs good = lenet_training(shared);
  const auto refused = [&](const pb::TrainingHeader& h, const TrainingInputs& inputs, const std::string& words) {
    pb::SubmitMatchingResponse reply;
    const grpc::Status status = client_->submit(h, inputs, &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << words << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(words), std::string::npos) << status.error_message();
  };
  refused(header("search", {-1.0}), good, "header.lambdas");
  refused(header("search", {std::nan("")}), good, "header.lambdas");
  refused(header("sweep", {}), good, "header.lambdas");
  auto h = header("search", {0.5});
  h.set_search_epochs(0);
  refused(h, good, "header.search_epochs");
  h.set_search_epochs(1001);
  refused(h, good, "header.search_epochs");
  refused(header("train", {0.5}), good, "header.kind");
  TrainingInputs short_labels = good;
  short_labels.train_y = read_file(shared / "models/lenet5_fmnist_calib.npy");
  refused(header("search", {0.5}), short_labels, "train_y");
  TrainingInputs wrong_shape = good;
  wrong_shape.train_x = wrong_shape.calibration;  // 256 images for 2,000 labels
  refused(header("search", {0.5}), wrong_shape, "train_y: 2000 labels for 256 images in train_x");
  EXPECT_TRUE(client_->runs("training").empty());
}

}  // namespace
}  // namespace agnx
