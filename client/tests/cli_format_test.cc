// The command line's argument forms and output helpers.
#include "client/cli/format.h"

#include <sstream>

#include <gtest/gtest.h>

namespace agnx::cli {
namespace {

TEST(ParseSigma, ReadsRepeatedAndCommaJoinedPairs) {
  const auto sigma = parse_sigma({"conv1.0=0.15", "linear1=5e-2,linear3=1"});
  ASSERT_TRUE(sigma.ok()) << sigma.status().to_string();
  EXPECT_EQ(*sigma, (std::map<std::string, double>{{"conv1.0", 0.15}, {"linear1", 0.05}, {"linear3", 1.0}}));
  EXPECT_TRUE(parse_sigma({})->empty());
}

TEST(ParseSigma, NamesTheBadValue) {
  for (const std::string bad : {"conv1.0", "=0.5", "conv1.0=", "conv1.0=abc", "conv1.0=0.5x", "conv1.0=nan",
                                "conv1.0=inf"}) {
    const auto sigma = parse_sigma({bad});
    ASSERT_FALSE(sigma.ok()) << bad;
    EXPECT_EQ(sigma.status().code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(sigma.status().message().find(bad), std::string::npos) << sigma.status().message();
  }
  const auto twice = parse_sigma({"a=1", "a=2"});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("given twice"), std::string::npos);
}

TEST(SplitList, SplitsOnCommasAndDropsEmptyNames) {
  EXPECT_EQ(split_list({"a,b", "c", ",d,,"}), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(PrintTable, AlignsColumnsAndRightAlignsNumbers) {
  std::ostringstream out;
  print_table(out, {"NAME", "VALUE"}, {{"alpha", "1.5"}, {"b", "12"}});
  EXPECT_EQ(out.str(), "NAME   VALUE\nalpha    1.5\nb         12\n");
}

TEST(Number, KeepsSixSignificantDigits) {
  EXPECT_EQ(number(0.123456789), "0.123457");
  EXPECT_EQ(number(2595.12345), "2595.12");
  EXPECT_EQ(number(0), "0");
}

TEST(RunToJson, CarriesTheRunAndLambdaFromItsParams) {
  pb::Run run;
  run.mutable_info()->set_run_id("r");
  run.mutable_info()->set_status("FINISHED");
  (*run.mutable_params())["lambda"] = "0.25";
  (*run.mutable_tags())["t"] = "v";
  auto* metric = run.add_metrics();
  metric->set_key("relative_energy");
  metric->set_value(0.5);
  const auto json = run_to_json(run);
  EXPECT_EQ(json["run_id"], "r");
  EXPECT_EQ(json["status"], "FINISHED");
  EXPECT_EQ(json["lambda"], 0.25);
  EXPECT_EQ(json["params"]["lambda"], "0.25");
  EXPECT_EQ(json["tags"]["t"], "v");
  EXPECT_EQ(json["metrics"]["relative_energy"], 0.5);
  EXPECT_FALSE(json.contains("end_time"));
  EXPECT_TRUE(run_to_json(pb::Run())["lambda"].is_null());
  for (const char* lax : {"0x1p3", "1e-400", " 0.5", "inf"}) {  // std::stod took the first as 8
    (*run.mutable_params())["lambda"] = lax;
    EXPECT_TRUE(run_to_json(run)["lambda"].is_null()) << lax;
  }
}

TEST(ParseFinite, OnlyDecimalNumbersInRange) {
  EXPECT_EQ(parse_finite("-2.5e-3"), -2.5e-3);
  for (const char* lax : {"0x1p3", "1e-400", "1e999", "+1", " 1", "nan", ""}) EXPECT_FALSE(parse_finite(lax)) << lax;
}

TEST(ProgressPrinter, LogsOneLinePerStageOffATerminal) {
  std::ostringstream out;
  ProgressPrinter printer(out, /*tty=*/false);
  pb::JobProgress p;
  p.set_state("RUNNING");
  p.set_stage("features");
  p.set_steps(3);
  for (uint32_t step = 1; step <= 3; ++step) {
    p.set_step(step);
    p.set_percent(10.0 * step);
    printer.update(p);
  }
  p.set_stage("selection");
  p.set_percent(90);
  printer.update(p);
  printer.finish();
  EXPECT_EQ(out.str(), "RUNNING  features 1/3   10.0%\nRUNNING  selection 3/3   90.0%\n");
}

TEST(ProgressPrinter, RedrawsOneLineOnATerminal) {
  std::ostringstream out;
  ProgressPrinter printer(out, /*tty=*/true);
  pb::JobProgress p;
  p.set_stage("features");
  p.set_percent(50);
  printer.update(p);
  printer.update(p);
  printer.finish();
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\r'), 2);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_NE(text.find("###############---------------]  50.0%  features"), std::string::npos) << text;
}

}  // namespace
}  // namespace agnx::cli
