// TLS identity: the self-signed pair is generated once with private file modes and reused, it
// verifies against itself the way a gRPC peer that pins it will check it, its fingerprint is the
// one `openssl x509 -fingerprint -sha256` prints, and broken configurations fail naming the file.
#include "net/tls_identity.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "fixtures/test_support.h"

namespace sluice::net {
namespace {

using sluice::testing::run_command;
using sluice::testing::TempDir;

constexpr char kName[] = "gw-1.example";

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr parse(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                                &BIO_free);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TlsIdentity generate(const TempDir& dir, const std::string& name = kName) {
  Result<TlsIdentity> id = load_or_create_identity("", "", dir.path(), name);
  EXPECT_TRUE(id.ok()) << id.status().to_string();
  return id.ok() ? *id : TlsIdentity{};
}

// X509_verify_cert with only `cert` as trust anchor, for `ip` (or `host` if ip is empty), as
// gRPC's OpenSSL does it. Returns the X509_V_ code (X509_V_OK on success).
int verify_against_itself(X509* cert, const std::string& ip, const std::string& host, int purpose,
                          unsigned long flags = 0) {
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  EXPECT_EQ(X509_STORE_add_cert(store.get(), cert), 1);
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  EXPECT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr), 1);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  if (!ip.empty()) {
    EXPECT_EQ(X509_VERIFY_PARAM_set1_ip_asc(param, ip.c_str()), 1);
  }
  if (!host.empty()) {
    EXPECT_EQ(X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0), 1);
  }
  X509_VERIFY_PARAM_set_flags(param, flags);
  EXPECT_EQ(X509_STORE_CTX_set_purpose(ctx.get(), purpose), 1);
  const int ok = X509_verify_cert(ctx.get());
  const int err = X509_STORE_CTX_get_error(ctx.get());
  return ok == 1 ? X509_V_OK : (err == X509_V_OK ? X509_V_ERR_UNSPECIFIED : err);
}

TEST(TlsIdentityTest, FirstStartGeneratesKeyAndCertificateWithPrivateModes) {
  TempDir dir;
  const TlsIdentity id = generate(dir);
  EXPECT_TRUE(id.generated);
  EXPECT_EQ(id.cert_file, dir.path() + "/tls/cert.pem");
  EXPECT_EQ(id.key_file, dir.path() + "/tls/key.pem");
  EXPECT_EQ(slurp(id.cert_file), id.cert_pem);
  EXPECT_EQ(slurp(id.key_file), id.key_pem);
  EXPECT_NE(id.cert_pem.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  EXPECT_NE(id.key_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  EXPECT_EQ(mode_of(dir.path() + "/tls"), 0700u);
  EXPECT_EQ(mode_of(id.key_file), 0600u);
  // Only the two files: no temporary file left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path() + "/tls")) {
    ++entries;
  }
  EXPECT_EQ(entries, 2u);
}

TEST(TlsIdentityTest, SecondStartLoadsTheSameIdentity) {
  TempDir dir;
  const TlsIdentity first = generate(dir);
  const TlsIdentity second = generate(dir);
  EXPECT_FALSE(second.generated);
  EXPECT_EQ(second.cert_pem, first.cert_pem);
  EXPECT_EQ(second.key_pem, first.key_pem);
  EXPECT_EQ(*certificate_fingerprint(second.cert_pem), *certificate_fingerprint(first.cert_pem));
}

TEST(TlsIdentityTest, EachGeneratedIdentityIsDifferent) {
  TempDir a;
  TempDir b;
  const X509Ptr ca = parse(generate(a).cert_pem);
  const X509Ptr cb = parse(generate(b).cert_pem);
  ASSERT_TRUE(ca && cb);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca.get()), X509_get0_serialNumber(cb.get())),
            0);
  EXPECT_NE(X509_cmp(ca.get(), cb.get()), 0);
}

TEST(TlsIdentityTest, FingerprintMatchesOpensslCommandLine) {
  TempDir dir;
  const TlsIdentity id = generate(dir);
  Result<std::string> ours = certificate_fingerprint(id.cert_pem);
  ASSERT_TRUE(ours.ok()) << ours.status().to_string();
  EXPECT_EQ(ours->size(), 95u);  // 32 bytes: 64 hex digits and 31 colons
  EXPECT_EQ(*ours, [&] {
    std::string lower = *ours;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower;
  }());

  const auto cli =
      run_command("openssl x509 -noout -fingerprint -sha256 -in '" + id.cert_file + "'");
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  // "sha256 Fingerprint=AB:CD:...\n" (the prefix's case differs between OpenSSL versions).
  const size_t eq = cli.output.find('=');
  ASSERT_NE(eq, std::string::npos) << cli.output;
  std::string theirs = cli.output.substr(eq + 1);
  while (!theirs.empty() && (theirs.back() == '\n' || theirs.back() == '\r')) theirs.pop_back();
  EXPECT_NE(theirs, *ours);  // openssl prints uppercase ...
  EXPECT_TRUE(fingerprints_equal(theirs, *ours)) << theirs << " vs " << *ours;  // ... same digest
}

TEST(TlsIdentityTest, FingerprintOfAnOperatorCertificateMatchesOpenssl) {
  TempDir dir;
  sluice::testing::make_test_certificates(dir.path());
  Result<TlsIdentity> id =
      load_or_create_identity(dir.file("server.crt"), dir.file("server.key"), "", kName);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  EXPECT_FALSE(id->generated);
  const auto cli =
      run_command("openssl x509 -noout -fingerprint -sha256 -in '" + dir.file("server.crt") + "'");
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  std::string theirs = cli.output.substr(cli.output.find('=') + 1);
  theirs.erase(theirs.find_last_not_of("\r\n") + 1);
  EXPECT_TRUE(fingerprints_equal(theirs, *certificate_fingerprint(id->cert_pem)));
  EXPECT_FALSE(fingerprints_equal(theirs, *certificate_fingerprint(slurp(dir.file("ca.crt")))));
}

TEST(TlsIdentityTest, GeneratedCertificateVerifiesAgainstItselfForLoopbackAndItsName) {
  TempDir dir;
  const X509Ptr cert = parse(generate(dir).cert_pem);
  ASSERT_TRUE(cert);
  // The receiver as TLS server, the sender as TLS client; default and strict RFC 5280 checks.
  for (const int purpose : {X509_PURPOSE_SSL_SERVER, X509_PURPOSE_SSL_CLIENT}) {
    for (const unsigned long flags : {0UL, static_cast<unsigned long>(X509_V_FLAG_X509_STRICT)}) {
      SCOPED_TRACE("purpose " + std::to_string(purpose) + " flags " + std::to_string(flags));
      EXPECT_EQ(verify_against_itself(cert.get(), "127.0.0.1", "", purpose, flags), X509_V_OK);
      EXPECT_EQ(verify_against_itself(cert.get(), "::1", "", purpose, flags), X509_V_OK);
      EXPECT_EQ(verify_against_itself(cert.get(), "", "localhost", purpose, flags), X509_V_OK);
      EXPECT_EQ(verify_against_itself(cert.get(), "", kName, purpose, flags), X509_V_OK);
    }
  }
  // The check can fail: another address or name does not match.
  EXPECT_EQ(verify_against_itself(cert.get(), "10.1.2.3", "", X509_PURPOSE_SSL_SERVER),
            X509_V_ERR_IP_ADDRESS_MISMATCH);
  EXPECT_EQ(verify_against_itself(cert.get(), "", "other.example", X509_PURPOSE_SSL_SERVER),
            X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST(TlsIdentityTest, GeneratedCertificateIsAnEndEntityEcCertificate) {
  TempDir dir;
  const X509Ptr cert = parse(generate(dir).cert_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);  // CA:FALSE, see generate_self_signed
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(cert.get())), EVP_PKEY_EC);
  // Self-signed in the strictest sense (names, key identifiers and key usage): what OpenSSL 1.1
  // and BoringSSL need to take it as its own trust anchor.
  EXPECT_EQ(X509_check_issued(cert.get(), cert.get()), X509_V_OK);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr), &BN_free);
  EXPECT_GT(BN_num_bits(serial.get()), 64);  // random, not a counter

  // Valid since about an hour ago, for ten years.
  int days = 0;
  int seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notBefore(cert.get())), 1);
  EXPECT_LE(days * 86400 + seconds, -3500);
  EXPECT_GE(days * 86400 + seconds, -3700);
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get())), 1);
  EXPECT_GE(days, 3650);
  EXPECT_LE(days, 3654);

  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, kName);
}

TEST(TlsIdentityTest, CommonNameThatIsNotAHostNameStaysOutOfTheSubjectAltName) {
  TempDir dir;
  const X509Ptr cert = parse(generate(dir, "Sluice line 3, hall B").cert_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(verify_against_itself(cert.get(), "127.0.0.1", "", X509_PURPOSE_SSL_SERVER), X509_V_OK);
  std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)> san(
      static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)),
      &GENERAL_NAMES_free);
  ASSERT_TRUE(san);
  EXPECT_EQ(sk_GENERAL_NAME_num(san.get()), 3);  // localhost, 127.0.0.1, ::1
}

TEST(TlsIdentityTest, KeyThatDoesNotMatchTheCertificateIsRefusedNamingBothFiles) {
  TempDir a;
  TempDir b;
  const TlsIdentity ia = generate(a);
  const TlsIdentity ib = generate(b);
  Result<TlsIdentity> id = load_or_create_identity(ia.cert_file, ib.key_file, "", kName);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Code::kInvalidArgument);
  EXPECT_NE(id.status().message().find(ia.cert_file), std::string::npos) << id.status().message();
  EXPECT_NE(id.status().message().find(ib.key_file), std::string::npos) << id.status().message();
  EXPECT_NE(id.status().message().find("does not belong"), std::string::npos);
}

TEST(TlsIdentityTest, MissingConfiguredFileIsNamed) {
  TempDir dir;
  const TlsIdentity gen = generate(dir);
  Result<TlsIdentity> id =
      load_or_create_identity(dir.file("nope.pem"), gen.key_file, dir.path(), kName);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Code::kNotFound);
  EXPECT_NE(id.status().message().find(dir.file("nope.pem")), std::string::npos);
  EXPECT_NE(id.status().message().find("TLS certificate"), std::string::npos);

  id = load_or_create_identity(gen.cert_file, dir.file("nokey.pem"), dir.path(), kName);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Code::kNotFound);
  EXPECT_NE(id.status().message().find(dir.file("nokey.pem")), std::string::npos);
  EXPECT_NE(id.status().message().find("TLS private key"), std::string::npos);
}

TEST(TlsIdentityTest, GarbageIsRefusedAsCertificateOrKey) {
  TempDir dir;
  const TlsIdentity gen = generate(dir);

  write(dir.file("text.pem"), "hello, I am not a certificate\n");
  Result<TlsIdentity> id = load_or_create_identity(dir.file("text.pem"), gen.key_file, "", kName);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Code::kInvalidArgument);
  EXPECT_NE(id.status().message().find(dir.file("text.pem")), std::string::npos);
  EXPECT_NE(id.status().message().find("not a PEM file"), std::string::npos);

  write(dir.file("bad.pem"),
        "-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n");
  id = load_or_create_identity(dir.file("bad.pem"), gen.key_file, "", kName);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Code::kInvalidArgument);
  EXPECT_NE(id.status().message().find(dir.file("bad.pem")), std::string::npos);
  EXPECT_NE(id.status().message().find("holds no PEM certificate"), std::string::npos);
  EXPECT_NE(id.status().message().find("error:"), std::string::npos);  // OpenSSL's reason

  // A certificate where the key belongs, and the other way round.
  id = load_or_create_identity(gen.cert_file, gen.cert_file, "", kName);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("holds no PEM private key"), std::string::npos);
  id = load_or_create_identity(gen.key_file, gen.key_file, "", kName);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("holds no PEM certificate"), std::string::npos);

  EXPECT_FALSE(certificate_fingerprint("garbage").ok());
  EXPECT_FALSE(certificate_fingerprint("").ok());
}

TEST(TlsIdentityTest, EncryptedKeyIsRefusedWithoutPrompting) {
  TempDir dir;
  const TlsIdentity gen = generate(dir);
  const auto r = run_command("openssl pkey -in '" + gen.key_file +
                             "' -aes256 -passout pass:x -out '" + dir.file("enc.pem") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Result<TlsIdentity> id = load_or_create_identity(gen.cert_file, dir.file("enc.pem"), "", kName);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("encrypted"), std::string::npos) << id.status().message();
  EXPECT_NE(id.status().message().find(dir.file("enc.pem")), std::string::npos);
}

TEST(TlsIdentityTest, OnlyOneOfCertificateAndKeyIsRefused) {
  TempDir dir;
  const TlsIdentity gen = generate(dir);
  Result<TlsIdentity> id = load_or_create_identity(gen.cert_file, "", dir.path(), kName);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Code::kInvalidArgument);
  EXPECT_NE(id.status().message().find("without its key"), std::string::npos);
  id = load_or_create_identity("", gen.key_file, dir.path(), kName);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("without its certificate"), std::string::npos);
}

TEST(TlsIdentityTest, KeyLeftWithoutCertificateByACrashIsReplaced) {
  TempDir dir;
  const TlsIdentity first = generate(dir);
  ASSERT_EQ(std::remove(first.cert_file.c_str()), 0);
  const TlsIdentity second = generate(dir);
  EXPECT_TRUE(second.generated);
  EXPECT_NE(second.key_pem, first.key_pem);
  EXPECT_EQ(slurp(second.key_file), second.key_pem);
  EXPECT_EQ(mode_of(second.key_file), 0600u);
}

TEST(TlsIdentityTest, CertificateWithoutItsKeyIsAnErrorAndIsKept) {
  TempDir dir;
  const TlsIdentity first = generate(dir);
  ASSERT_EQ(std::remove(first.key_file.c_str()), 0);
  Result<TlsIdentity> id = load_or_create_identity("", "", dir.path(), kName);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find(first.key_file), std::string::npos) << id.status().message();
  EXPECT_EQ(slurp(first.cert_file), first.cert_pem);
}

TEST(TlsIdentityTest, UnusableDefaultsAreRefused) {
  TempDir dir;
  EXPECT_EQ(load_or_create_identity("", "", "", kName).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(load_or_create_identity("", "", dir.path(), "").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(load_or_create_identity("", "", dir.path(), std::string(65, 'a')).status().code(),
            Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/tls/cert.pem"));
}

TEST(TlsIdentityTest, FingerprintsCompareIgnoringCaseAndColonsButBlankMatchesNothing) {
  EXPECT_TRUE(fingerprints_equal("ab:cd:ef:01", "AB:CD:EF:01"));
  EXPECT_TRUE(fingerprints_equal("abcdef01", "AB:CD:EF:01"));
  EXPECT_FALSE(fingerprints_equal("ab:cd:ef:01", "ab:cd:ef:02"));
  EXPECT_FALSE(fingerprints_equal("ab:cd:ef", "ab:cd:ef:01"));
  EXPECT_FALSE(fingerprints_equal("", ""));
  EXPECT_FALSE(fingerprints_equal(":", ":"));
  EXPECT_FALSE(fingerprints_equal("sha256 Fingerprint=AB", "sha256 Fingerprint=AB"));
}

}  // namespace
}  // namespace sluice::net
