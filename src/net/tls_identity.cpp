// TLS identity: loads the operator's certificate and key, or generates and keeps a self-signed
// pair under <data dir>/tls on first start (tls_identity.h has the contract). OpenSSL 3 objects
// live in unique_ptrs with their free functions; every OpenSSL failure becomes a Status that
// carries the drained error queue. Files are written with POSIX calls rather than through Env,
// because Env cannot set the 0600 / 0700 modes a private key needs; renames and directory syncs
// still go through Env::posix().
#include "net/tls_identity.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "io/env.h"

namespace sluice::net {

namespace {

// A PEM certificate chain or key is a few KiB; anything near this is not one.
constexpr uint64_t kMaxPemBytes = 1024 * 1024;
constexpr mode_t kTlsDirMode = 0700;
constexpr mode_t kKeyFileMode = 0600;
constexpr mode_t kCertFileMode = 0644;
constexpr long kBackdateSeconds = 60 * 60;  // tolerates a peer whose clock is a little behind
constexpr int kValidDays = 10 * 365 + 3;    // ten years, leap days included
constexpr int kSerialBits = 159;            // positive and at most 20 octets (RFC 5280 4.1.2.2)
constexpr size_t kMaxCommonNameBytes = 64;  // ub-common-name (RFC 5280)
constexpr size_t kMaxDnsNameBytes = 253;
constexpr size_t kMaxDnsLabelBytes = 63;

template <auto Free>
struct OpensslFree {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BioPtr = std::unique_ptr<BIO, OpensslFree<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpensslFree<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpensslFree<EVP_PKEY_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpensslFree<BN_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpensslFree<X509_EXTENSION_free>>;

// Empties OpenSSL's per-thread error queue into one line ("error:...; error:...").
std::string drain_openssl_errors() {
  std::string out;
  while (const unsigned long err = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(err, buf.data(), buf.size());
    if (!out.empty()) out += "; ";
    out += buf.data();
  }
  return out.empty() ? std::string("no OpenSSL error recorded") : out;
}

Status openssl_status(Code code, const std::string& what) {
  return {code, what + ": " + drain_openssl_errors()};
}

Result<BioPtr> memory_bio(std::string_view data, const std::string& what) {
  if (data.size() > static_cast<size_t>(INT_MAX)) return invalid_argument(what + " is too large");
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) return openssl_status(Code::kInternal, what + ": cannot make a memory BIO");
  return bio;
}

// The first certificate in `pem`; `what` names its source in errors.
Result<X509Ptr> parse_certificate(std::string_view pem, const std::string& what) {
  SLUICE_ASSIGN_OR_RETURN(BioPtr bio, memory_bio(pem, what));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return openssl_status(Code::kInvalidArgument,
                          what + " holds no PEM certificate (expected '-----BEGIN CERTIFICATE')");
  }
  return cert;
}

// Never prompts: an encrypted key is refused, and the callback records that it was asked.
int refuse_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

Result<PkeyPtr> parse_private_key(std::string_view pem, const std::string& what) {
  SLUICE_ASSIGN_OR_RETURN(BioPtr bio, memory_bio(pem, what));
  bool asked_for_passphrase = false;
  PkeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, &asked_for_passphrase));
  if (!key) {
    if (asked_for_passphrase) {
      ERR_clear_error();
      return invalid_argument(what +
                              " is encrypted; Sluice needs an unencrypted key (decrypt it with "
                              "'openssl pkey -in KEY -out NEW_KEY' and keep NEW_KEY mode 0600)");
    }
    return openssl_status(Code::kInvalidArgument,
                          what + " holds no PEM private key (expected '-----BEGIN PRIVATE KEY')");
  }
  return key;
}

// Letters, digits and hyphens in dot-separated labels; the last label not all digits, so that an
// IPv4 address is not taken for a host name.
bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxDnsNameBytes) return false;
  bool last_label_all_digits = false;
  while (true) {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > kMaxDnsLabelBytes) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    last_label_all_digits = true;
    for (const char c : label) {
      const auto u = static_cast<unsigned char>(c);
      if (std::isalnum(u) == 0 && c != '-') return false;
      if (std::isdigit(u) == 0) last_label_all_digits = false;
    }
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  return !last_label_all_digits;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Status add_extension(X509* cert, X509V3_CTX& ctx, int nid, const std::string& value) {
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return openssl_status(Code::kInternal,
                          std::string("cannot add the ") + OBJ_nid2sn(nid) + " extension");
  }
  return {};
}

Result<std::string> bio_contents(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == nullptr) return openssl_status(Code::kInternal, "empty PEM output");
  return std::string(data, static_cast<size_t>(n));
}

struct GeneratedPem {
  std::string cert_pem;
  std::string key_pem;
};

// An EC P-256 key and a self-signed certificate for it.
//
// basicConstraints is CA:FALSE: the certificate is an end-entity certificate that the peer pins
// as its own trust anchor (gRPC's pem_root_certs = this certificate). OpenSSL, which gRPC uses
// here, accepts a self-signed leaf that is itself in the trust store without any CA flag; the
// unit test proves it (X509_verify_cert against an X509_STORE holding only this certificate,
// default flags and X509_V_FLAG_X509_STRICT, for IP 127.0.0.1, as TLS server and TLS client).
// CA:TRUE would not be needed and would be wrong: stricter verifiers (rustls/webpki, Go) refuse a
// CA certificate presented as an end entity, and a CA:TRUE key could sign other certificates
// that a peer trusting this one would then accept.
// There is deliberately no keyUsage extension: keyUsage=digitalSignature alone makes OpenSSL 1.1,
// BoringSSL and X509_check_issued() no longer see the certificate as self-signed (it may not
// sign certificates, its own included), and adding keyCertSign to an end-entity certificate
// contradicts CA:FALSE. Without keyUsage every use is allowed (RFC 5280 4.2.1.3);
// extendedKeyUsage still limits the key to TLS.
Result<GeneratedPem> generate_self_signed(const std::string& common_name) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return openssl_status(Code::kInternal, "cannot generate an EC P-256 key");

  X509Ptr cert(X509_new());
  if (!cert) return openssl_status(Code::kInternal, "cannot allocate a certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return openssl_status(Code::kInternal, "cannot set the certificate version");
  }

  BignumPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), kSerialBits, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
    return openssl_status(Code::kInternal, "cannot draw a random serial number");
  }
  if (BN_is_zero(serial.get()) == 1 && BN_one(serial.get()) != 1) {  // a serial must be positive
    return openssl_status(Code::kInternal, "cannot set the serial number");
  }
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return openssl_status(Code::kInternal, "cannot set the serial number");
  }

  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), kValidDays, 0, nullptr) == nullptr) {
    return openssl_status(Code::kInternal, "cannot set the validity period");
  }

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return openssl_status(Code::kInvalidArgument,
                          "cannot use '" + common_name + "' as the certificate's common name");
  }
  if (X509_set_pubkey(cert.get(), key.get()) != 1) {
    return openssl_status(Code::kInternal, "cannot set the certificate's public key");
  }

  std::string san = "DNS:localhost";
  if (is_dns_name(common_name) && !equals_ignoring_case(common_name, "localhost")) {
    san += ",DNS:" + common_name;  // checked above: no ',' or ':' can reach the config string
  }
  san += ",IP:127.0.0.1,IP:::1";

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  // The subject key identifier first: the authority key identifier of a self-signed certificate
  // is copied from it.
  SLUICE_RETURN_IF_ERROR(
      add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:FALSE"));
  // The same identity is a TLS server (receiver) and a TLS client (sender).
  SLUICE_RETURN_IF_ERROR(
      add_extension(cert.get(), ctx, NID_ext_key_usage, "serverAuth,clientAuth"));
  SLUICE_RETURN_IF_ERROR(add_extension(cert.get(), ctx, NID_subject_key_identifier, "hash"));
  SLUICE_RETURN_IF_ERROR(
      add_extension(cert.get(), ctx, NID_authority_key_identifier, "keyid:always"));
  SLUICE_RETURN_IF_ERROR(add_extension(cert.get(), ctx, NID_subject_alt_name, san));

  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return openssl_status(Code::kInternal, "cannot sign the certificate");
  }

  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio) return openssl_status(Code::kInternal, "cannot make a memory BIO");
  if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
    return openssl_status(Code::kInternal, "cannot write the certificate as PEM");
  }
  // PKCS#8, unencrypted ("BEGIN PRIVATE KEY"): the file's mode protects it.
  if (PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
      1) {
    return openssl_status(Code::kInternal, "cannot write the private key as PEM");
  }
  GeneratedPem out;
  SLUICE_ASSIGN_OR_RETURN(out.cert_pem, bio_contents(cert_bio.get()));
  SLUICE_ASSIGN_OR_RETURN(out.key_pem, bio_contents(key_bio.get()));
  return out;
}

// Closes a descriptor on every path out of a function.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error close(2) gives (deferred write errors show up here).
  int close() {
    const int r = ::close(fd_);
    fd_ = -1;
    return r;
  }

 private:
  int fd_;
};

// Writes `data` to `path` with `mode`: `path.tmp` is written, synced, renamed over `path`, and the
// directory synced, so after a crash `path` is either absent/old or complete.
Status write_file_durably(const std::string& path, std::string_view data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  FdGuard fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) return errno_status("open", tmp, errno);
  // A leftover temporary file keeps its old mode through O_TRUNC; set the one we want.
  if (::fchmod(fd.get(), mode) != 0) return errno_status("chmod", tmp, errno);
  while (!data.empty()) {
    const ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write", tmp, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd.get()) != 0) return errno_status("fsync", tmp, errno);
  if (fd.close() != 0) return errno_status("close", tmp, errno);
  Env& env = Env::posix();
  SLUICE_RETURN_IF_ERROR(env.rename(tmp, path));
  return env.sync_dir(parent_dir(path));
}

// Creates `dir` with mode 0700 (its parents as Env makes them) and makes the entry durable.
Status create_private_dir(const std::string& dir) {
  Env& env = Env::posix();
  const std::string parent = parent_dir(dir);
  SLUICE_RETURN_IF_ERROR(env.create_dirs(parent));
  if (::mkdir(dir.c_str(), kTlsDirMode) != 0) {
    if (errno != EEXIST) return errno_status("mkdir", dir, errno);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return errno_status("stat", dir, errno);
    if (!S_ISDIR(st.st_mode)) return failed_precondition(dir + " exists and is not a directory");
    return {};
  }
  return env.sync_dir(parent);
}

Result<bool> file_exists(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return errno_status("stat", path, errno);
}

Result<TlsIdentity> load_identity(const std::string& cert_file, const std::string& key_file) {
  ERR_clear_error();
  SLUICE_ASSIGN_OR_RETURN(std::string cert_pem, read_pem_file(cert_file, "TLS certificate"));
  SLUICE_ASSIGN_OR_RETURN(std::string key_pem, read_pem_file(key_file, "TLS private key"));
  SLUICE_ASSIGN_OR_RETURN(X509Ptr cert,
                          parse_certificate(cert_pem, "TLS certificate " + cert_file));
  SLUICE_ASSIGN_OR_RETURN(PkeyPtr key, parse_private_key(key_pem, "TLS private key " + key_file));
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()) != 1) {
    ERR_clear_error();
    return invalid_argument("TLS private key " + key_file + " does not belong to the certificate " +
                            cert_file + ": configure the key the certificate was issued for");
  }
  TlsIdentity id;
  id.cert_pem = std::move(cert_pem);
  id.key_pem = std::move(key_pem);
  id.cert_file = cert_file;
  id.key_file = key_file;
  return id;
}

}  // namespace

Result<std::string> read_pem_file(const std::string& path, std::string_view what) {
  Result<std::string> data = read_file(Env::posix(), path, kMaxPemBytes);
  if (!data.ok()) {
    return data.status().with_context("cannot read the " + std::string(what) + " file");
  }
  if (data->find("-----BEGIN ") == std::string::npos) {
    return invalid_argument(std::string(what) + " file " + path +
                            " is not a PEM file (it has no '-----BEGIN' line)");
  }
  return data;
}

Result<TlsIdentity> load_or_create_identity(const std::string& cert_file,
                                            const std::string& key_file,
                                            const std::string& default_dir,
                                            const std::string& common_name) {
  if (!cert_file.empty() || !key_file.empty()) {
    if (cert_file.empty() || key_file.empty()) {
      return invalid_argument(std::string("a TLS ") +
                              (cert_file.empty() ? "key file was given without its certificate"
                                                 : "certificate was given without its key file") +
                              ": set both, or neither to use the self-signed identity in " +
                              join_path(default_dir, "tls"));
    }
    return load_identity(cert_file, key_file);
  }

  if (default_dir.empty()) {
    return invalid_argument("no TLS certificate configured and no data folder to keep one in");
  }
  const std::string tls_dir = join_path(default_dir, "tls");
  const std::string cert_path = join_path(tls_dir, "cert.pem");
  const std::string key_path = join_path(tls_dir, "key.pem");
  SLUICE_ASSIGN_OR_RETURN(const bool have_cert, file_exists(cert_path));
  if (have_cert) {
    Result<TlsIdentity> loaded = load_identity(cert_path, key_path);
    if (!loaded.ok()) {
      return loaded.status().with_context(
          "the generated TLS identity in " + tls_dir +
          " is damaged (remove both files to generate a new one; peers that pinned the old "
          "fingerprint must then be updated)");
    }
    return loaded;
  }

  if (common_name.empty() || common_name.size() > kMaxCommonNameBytes) {
    return invalid_argument("the TLS certificate's common name must be 1 to 64 bytes, not '" +
                            common_name + "'");
  }
  ERR_clear_error();
  SLUICE_ASSIGN_OR_RETURN(GeneratedPem pem, generate_self_signed(common_name));
  SLUICE_RETURN_IF_ERROR(create_private_dir(tls_dir));
  // Key first: a crash before the certificate lands leaves a key without a certificate, which
  // the next start overwrites (see have_cert above).
  SLUICE_RETURN_IF_ERROR(write_file_durably(key_path, pem.key_pem, kKeyFileMode));
  SLUICE_RETURN_IF_ERROR(write_file_durably(cert_path, pem.cert_pem, kCertFileMode));

  TlsIdentity id;
  id.cert_pem = std::move(pem.cert_pem);
  id.key_pem = std::move(pem.key_pem);
  id.cert_file = cert_path;
  id.key_file = key_path;
  id.generated = true;
  return id;
}

Result<std::string> certificate_fingerprint(std::string_view cert_pem) {
  ERR_clear_error();
  SLUICE_ASSIGN_OR_RETURN(X509Ptr cert, parse_certificate(cert_pem, "certificate"));
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), digest.data(), &len) != 1) {
    return openssl_status(Code::kInternal, "cannot compute the certificate's SHA-256 digest");
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 3);
  for (unsigned int i = 0; i < len; ++i) {
    if (i > 0) out += ':';
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0f];
  }
  return out;
}

bool fingerprints_equal(std::string_view a, std::string_view b) {
  // Hex digits only, lowercased; empty if `f` holds anything else or no digit at all.
  auto normalize = [](std::string_view f) {
    std::string out;
    for (const char c : f) {
      if (c == ':') continue;
      if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return std::string();
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  };
  const std::string na = normalize(a);
  return !na.empty() && na == normalize(b);
}

}  // namespace sluice::net
