// MasterKey: the key file (created 0600 once, reused, permissions enforced, malformed refused) and
// AES-256-GCM sealing bound to a context.
#include "reglo/security/master_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace reglo::security {
namespace {

class MasterKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("reglo-master-key-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path() const { return (dir_ / "sub" / "secrets.key").string(); }
  std::filesystem::path dir_;
};

TEST_F(MasterKeyTest, CreatesTheKeyFileOnceWithMode0600) {
  Result<MasterKey> first = MasterKey::LoadOrCreate(Path());
  ASSERT_TRUE(first.ok()) << first.status().message();
  struct stat info {};
  ASSERT_EQ(::stat(Path().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  // No temporary file left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ / "sub"),
                          std::filesystem::directory_iterator()),
            1);
  // Loaded again: the same key (what one sealed, the other opens).
  Result<std::string> sealed = first->Seal("secret", "ctx");
  ASSERT_TRUE(sealed.ok());
  Result<MasterKey> second = MasterKey::LoadOrCreate(Path());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->Open(*sealed, "ctx").value(), "secret");
}

TEST_F(MasterKeyTest, RefusesAReadableOrMalformedKeyFileWithoutShowingIt) {
  ASSERT_TRUE(MasterKey::LoadOrCreate(Path()).ok());
  std::filesystem::permissions(Path(), std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  Result<MasterKey> readable = MasterKey::LoadOrCreate(Path());
  EXPECT_EQ(readable.status().code(), StatusCode::kConfigError);
  EXPECT_NE(readable.status().message().find("chmod 600"), std::string::npos);

  std::filesystem::remove(Path());
  {
    std::ofstream(Path()) << "c2hvcnQ=\n";  // base64 of "short"
  }
  std::filesystem::permissions(
      Path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  Result<MasterKey> malformed = MasterKey::LoadOrCreate(Path());
  EXPECT_EQ(malformed.status().code(), StatusCode::kConfigError);
  EXPECT_NE(malformed.status().message().find(Path()), std::string::npos);
  EXPECT_EQ(malformed.status().message().find("c2hvcnQ"), std::string::npos);
  EXPECT_EQ(MasterKey::LoadOrCreate("").status().code(), StatusCode::kConfigError);
}

TEST_F(MasterKeyTest, SealsSoThatOnlyTheSameKeyAndContextOpen) {
  const MasterKey key = MasterKey::FromBytes(std::string(32, 'a')).value();
  const MasterKey other = MasterKey::FromBytes(std::string(32, 'b')).value();
  const std::string sealed = key.Seal("the signing secret", "abc123").value();
  EXPECT_EQ(sealed.find("the signing secret"), std::string::npos);
  EXPECT_EQ(sealed.substr(0, 3), "v1:");
  EXPECT_NE(key.Seal("the signing secret", "abc123").value(), sealed);  // random nonce
  EXPECT_EQ(key.Open(sealed, "abc123").value(), "the signing secret");
  EXPECT_EQ(key.Open(sealed, "abc124").status().code(), StatusCode::kAuthError);
  EXPECT_EQ(other.Open(sealed, "abc123").status().code(), StatusCode::kAuthError);
  std::string tampered = sealed;
  tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(key.Open(tampered, "abc123").status().code(), StatusCode::kAuthError);
  EXPECT_EQ(key.Open("v1:", "abc123").status().code(), StatusCode::kAuthError);
  EXPECT_EQ(key.Open("plain", "abc123").status().code(), StatusCode::kAuthError);
  EXPECT_EQ(key.Open(key.Seal("", "c").value(), "c").value(), "");
  EXPECT_EQ(MasterKey::FromBytes("short").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace reglo::security
