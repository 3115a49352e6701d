// Password hashing and token primitives: argon2id hashes verify the right password only, carry
// their own parameters, and tokens have the documented printable shape.
#include <gtest/gtest.h>

#include <set>

#include "auth/crypto.h"

namespace sluice::auth {
namespace {

// Small costs so that the tests run fast; the production defaults are in PasswordParams.
constexpr PasswordParams kFast{.time_cost = 1, .memory_kib = 64, .parallelism = 1};

TEST(AuthCryptoTest, HashIsArgon2idAndVerifiesOnlyTheRightPassword) {
  Result<std::string> hash = hash_password("correct horse battery", kFast);
  ASSERT_TRUE(hash.ok()) << hash.status().to_string();
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=64,t=1,p=1$", 0), 0u) << *hash;
  EXPECT_EQ(hash->find("correct horse"), std::string::npos);
  EXPECT_TRUE(*verify_password("correct horse battery", *hash));
  EXPECT_FALSE(*verify_password("correct horse batterY", *hash));
  EXPECT_FALSE(*verify_password("", *hash));
}

TEST(AuthCryptoTest, SamePasswordHashesDifferentlyEachTime) {
  EXPECT_NE(*hash_password("the same password", kFast), *hash_password("the same password", kFast));
}

TEST(AuthCryptoTest, VerifyUsesTheParametersStoredInTheHash) {
  const std::string hash =
      *hash_password("a longer password", {.time_cost = 2, .memory_kib = 128, .parallelism = 2});
  EXPECT_NE(hash.find("m=128,t=2,p=2"), std::string::npos);
  EXPECT_TRUE(*verify_password("a longer password", hash));
}

TEST(AuthCryptoTest, DefaultParametersAreTheDocumentedOnes) {
  const PasswordParams p;
  EXPECT_EQ(p.time_cost, 3u);
  EXPECT_EQ(p.memory_kib, 64u * 1024u);
  EXPECT_EQ(p.parallelism, 1u);
}

TEST(AuthCryptoTest, AStoredValueThatIsNotAnArgon2idHashIsAnError) {
  EXPECT_EQ(verify_password("whatever", "plaintext").status().code(), Code::kCorruption);
  EXPECT_EQ(verify_password("whatever", "$argon2id$garbage").status().code(), Code::kCorruption);
}

TEST(AuthCryptoTest, ShortPasswordIsRefusedWithTheMinimumInTheMessage) {
  Status st = check_password_policy("elevenchars");
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("at least 12"), std::string::npos) << st.message();
  EXPECT_TRUE(check_password_policy("twelve chars").ok());
  EXPECT_FALSE(check_password_policy(std::string(kMaxPasswordLength + 1, 'x')).ok());
}

TEST(AuthCryptoTest, Base64urlMatchesRfc4648Vectors) {
  EXPECT_EQ(base64url(""), "");
  EXPECT_EQ(base64url("f"), "Zg");
  EXPECT_EQ(base64url("fo"), "Zm8");
  EXPECT_EQ(base64url("foo"), "Zm9v");
  EXPECT_EQ(base64url("foob"), "Zm9vYg");
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
}

TEST(AuthCryptoTest, TokensArePrefixedBase64urlOf32RandomBytesAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string t = *new_token_text();
    EXPECT_EQ(t.size(), kTokenTextLength);
    EXPECT_EQ(t.rfind("slu_", 0), 0u);
    EXPECT_TRUE(looks_like_token(t)) << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_FALSE(looks_like_token("slu_short"));
  EXPECT_FALSE(looks_like_token("xyz_" + std::string(43, 'A')));
  EXPECT_FALSE(looks_like_token("slu_" + std::string(42, 'A') + "="));
}

TEST(AuthCryptoTest, Sha256OfAbcIsTheKnownDigest) {
  EXPECT_EQ(base64url(sha256("abc")), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
}

TEST(AuthCryptoTest, ConstantTimeEqualComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

TEST(AuthCryptoTest, RandomPasswordPassesThePolicy) {
  const std::string p = *random_password();
  EXPECT_EQ(p.size(), 24u);
  EXPECT_TRUE(check_password_policy(p).ok());
  EXPECT_NE(p, *random_password());
}

}  // namespace
}  // namespace sluice::auth
