// ArtifactFiles shared by several servers (store/artifact_files.h): temp
// names unique across instances and hosts, a put refreshes the file's time,
// and remove_unreferenced keeps what is referenced or younger than the grace.
#include "store/artifact_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace agnx::store {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::chrono::seconds kGrace = 1h;

fs::file_time_type now() { return fs::file_time_type::clock::now(); }

// Sets `path`'s mtime `age` into the past.
void age(const fs::path& path, std::chrono::seconds age) { fs::last_write_time(path, now() - age); }

void write(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

class ArtifactFilesTest : public ::testing::Test {
 protected:
  fs::path file_of(const std::string& sha) const { return *files_.file(sha); }
  std::string put(const std::string& content) {
    const auto sha = files_.put(content);
    EXPECT_TRUE(sha.ok()) << sha.status().to_string();
    return sha.ok() ? *sha : "";
  }
  int64_t remove_unreferenced(const std::set<std::string>& referenced, std::chrono::seconds grace) {
    const auto removed = files_.remove_unreferenced(referenced, grace);
    EXPECT_TRUE(removed.ok()) << removed.status().to_string();
    return removed.ok() ? *removed : -1;
  }

  testing::TempDir dir_;
  ArtifactFiles files_{dir_.path() / "artifacts"};
};

TEST_F(ArtifactFilesTest, TempNamesHoldTheHostAndDifferAcrossInstances) {
  std::array<char, 256> host{};
  ASSERT_EQ(::gethostname(host.data(), host.size() - 1), 0);
  const std::string short_host = std::string(host.data()).substr(0, std::string(host.data()).find('.'));
  const ArtifactFiles other(dir_.path() / "artifacts");
  const std::string mine = files_.temp_path("ab").filename().string();
  const std::string theirs = other.temp_path("ab").filename().string();
  EXPECT_EQ(files_.temp_path("ab").parent_path(), dir_.path() / "artifacts" / "tmp");
  EXPECT_EQ(mine.find("ab."), 0u) << mine;
  EXPECT_EQ(mine.find(short_host), 3u) << mine;
  EXPECT_NE(mine.find(std::to_string(::getpid())), std::string::npos) << mine;
  // Random bits per instance: the names differ before the counter too.
  EXPECT_NE(mine.substr(0, mine.rfind('.')), theirs.substr(0, theirs.rfind('.')));
  EXPECT_NE(files_.temp_path("ab"), files_.temp_path("ab"));
}

TEST_F(ArtifactFilesTest, AnUnreferencedFileYoungerThanTheGraceStays) {
  const std::string sha = put("young");
  EXPECT_EQ(remove_unreferenced({}, kGrace), 0);
  EXPECT_TRUE(fs::exists(file_of(sha)));
  age(file_of(sha), kGrace + 1min);
  EXPECT_EQ(remove_unreferenced({}, kGrace), 1);
  EXPECT_EQ(files_.file(sha).status().code(), StatusCode::kNotFound);
}

TEST_F(ArtifactFilesTest, AReferencedFileStaysHoweverOld) {
  const std::string sha = put("kept");
  age(file_of(sha), 1000h);
  EXPECT_EQ(remove_unreferenced({sha}, 0s), 0);
  EXPECT_EQ(*files_.get(sha), "kept");
}

TEST_F(ArtifactFilesTest, PuttingStoredContentAgainMakesItYoung) {
  const std::string sha = put("again");
  const fs::path path = file_of(sha);
  age(path, kGrace + 1min);
  EXPECT_EQ(put("again"), sha);
  EXPECT_GT(fs::last_write_time(path), now() - 1min);
  EXPECT_EQ(remove_unreferenced({}, kGrace), 0);
  EXPECT_EQ(*files_.get(sha), "again");
}

TEST_F(ArtifactFilesTest, AHardLinkedPutIsYoungThoughItsSourceWasOld) {
  const fs::path source = dir_.path() / "upload";
  write(source, "linked");
  age(source, kGrace + 1min);
  const auto sha = files_.put("linked", source);
  ASSERT_TRUE(sha.ok()) << sha.status().to_string();
  EXPECT_EQ(fs::hard_link_count(source), 2u);
  EXPECT_EQ(remove_unreferenced({}, kGrace), 0);
  EXPECT_EQ(*files_.get(*sha), "linked");
}

TEST_F(ArtifactFilesTest, OnlyStaleTempFilesGo) {
  const fs::path stale = files_.temp_path("00");
  const fs::path fresh = files_.temp_path("01");
  write(stale, "left by a crashed put");
  write(fresh, "a put under way");
  age(stale, kGrace + 1min);
  EXPECT_EQ(remove_unreferenced({}, kGrace), 0);  // temp files are not counted
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
}

TEST_F(ArtifactFilesTest, NoGraceRemovesEveryUnreferencedFile) {
  const std::string kept = put("referenced");
  const std::string dropped = put("not referenced");
  EXPECT_EQ(remove_unreferenced({kept}, 0s), 1);
  EXPECT_TRUE(files_.file(kept).ok());
  EXPECT_FALSE(files_.file(dropped).ok());
  EXPECT_EQ(put("not referenced"), dropped);  // stored anew
  EXPECT_EQ(*files_.get(dropped), "not referenced");
}

}  // namespace
}  // namespace agnx::store
