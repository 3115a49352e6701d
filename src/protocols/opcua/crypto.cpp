// Basic256Sha256's algorithms on OpenSSL 3's EVP interface (see crypto.h).
#include "protocols/opcua/crypto.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace sluice::opcua {
namespace {

// OpenSSL's queued errors as text (and the queue emptied), for a Status message.
std::string openssl_errors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    if (!out.empty()) out += "; ";
    out += buf.data();
  }
  return out.empty() ? "no OpenSSL error queued" : out;
}

Status crypto_failure(Code code, std::string_view what) {
  return {code, std::string(what) + ": " + openssl_errors()};
}

const unsigned char* uc(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* uc(Bytes& s) { return reinterpret_cast<unsigned char*>(s.data()); }

struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  void operator()(X509* x) const { X509_free(x); }
  void operator()(BIO* b) const { BIO_free(b); }
  void operator()(GENERAL_NAMES* g) const { GENERAL_NAMES_free(g); }
  void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
template <typename T>
using Owned = std::unique_ptr<T, CtxFree>;

Result<Bytes> aes256_cbc(bool encrypt, std::string_view key, std::string_view iv,
                         std::string_view data) {
  if (key.size() != kAes256KeySize || iv.size() != kAesBlockSize)
    return invalid_argument("AES-256-CBC needs a 32-byte key and a 16-byte IV");
  if (data.size() % kAesBlockSize != 0)
    return invalid_argument("AES-256-CBC data of " + std::to_string(data.size()) +
                            " bytes is not a whole number of 16-byte blocks");
  if (data.size() > static_cast<size_t>(INT_MAX)) return invalid_argument("AES data too large");
  Owned<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, uc(key), uc(iv),
                                encrypt ? 1 : 0) != 1)
    return crypto_failure(Code::kInternal, "AES-256-CBC init");
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  Bytes out(data.size() + kAesBlockSize, '\0');
  int n = 0;
  int tail = 0;
  if (EVP_CipherUpdate(ctx.get(), uc(out), &n, uc(data), static_cast<int>(data.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), uc(out) + n, &tail) != 1)
    return crypto_failure(Code::kCorruption, "AES-256-CBC");
  out.resize(static_cast<size_t>(n + tail));
  return out;
}

Bytes digest(const EVP_MD* md, std::string_view data) {
  Bytes out(static_cast<size_t>(EVP_MD_get_size(md)), '\0');
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), uc(out), &n, md, nullptr);
  out.resize(n);
  return out;
}

Status read_file(const std::filesystem::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return Status::ok_status();
}

// Writes `data` to `path` with `mode` (via a temporary file and a rename, so that a crash
// never leaves half a key).
Status write_file(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return io_error("cannot create " + tmp.string());
  if (::fchmod(fileno(f), mode) != 0 ||
      std::fwrite(data.data(), 1, data.size(), f) != data.size() || std::fflush(f) != 0 ||
      ::fsync(fileno(f)) != 0) {
    std::fclose(f);
    return io_error("cannot write " + tmp.string());
  }
  std::fclose(f);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return io_error("cannot rename " + tmp.string() + ": " + ec.message());
  return Status::ok_status();
}

Status add_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return crypto_failure(Code::kInternal, "certificate extension " + value);
  return Status::ok_status();
}

Result<ApplicationIdentity> create_identity(const IdentityOptions& o) {
  PKey key(EVP_RSA_gen(2048));
  if (!key) return crypto_failure(Code::kInternal, "RSA 2048 key generation");
  Owned<X509> cert(X509_new());
  if (!cert) return crypto_failure(Code::kInternal, "X509_new");
  X509_set_version(cert.get(), 2);  // v3
  SLUICE_ASSIGN_OR_RETURN(Bytes serial, random_bytes(16));
  serial[0] = static_cast<char>(serial[0] & 0x7f);  // a positive serial number
  BIGNUM* bn = BN_bin2bn(uc(serial), static_cast<int>(serial.size()), nullptr);
  ASN1_INTEGER* serial_number = BN_to_ASN1_INTEGER(bn, nullptr);
  X509_set_serialNumber(cert.get(), serial_number);  // copies
  ASN1_INTEGER_free(serial_number);
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -24L * 3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 3600 * o.valid_days);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  std::string cn = o.common_name + "@" + o.hostname;
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, uc(cn), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Sluice"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  SLUICE_RETURN_IF_ERROR(
      add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  SLUICE_RETURN_IF_ERROR(add_extension(
      cert.get(), &ctx, NID_key_usage,
      "critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment,keyCertSign"));
  SLUICE_RETURN_IF_ERROR(
      add_extension(cert.get(), &ctx, NID_ext_key_usage, "clientAuth,serverAuth"));
  SLUICE_RETURN_IF_ERROR(add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  SLUICE_RETURN_IF_ERROR(
      add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  SLUICE_RETURN_IF_ERROR(add_extension(cert.get(), &ctx, NID_subject_alt_name,
                                       "URI:" + o.application_uri + ",DNS:" + o.hostname));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
    return crypto_failure(Code::kInternal, "signing the certificate");

  int der_len = i2d_X509(cert.get(), nullptr);
  if (der_len <= 0) return crypto_failure(Code::kInternal, "encoding the certificate");
  Bytes der(static_cast<size_t>(der_len), '\0');
  unsigned char* p = uc(der);
  i2d_X509(cert.get(), &p);

  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return crypto_failure(Code::kInternal, "encoding the private key");
  char* pem_data = nullptr;
  long pem_len = BIO_get_mem_data(bio.get(), &pem_data);
  std::filesystem::path dir(o.directory);
  SLUICE_RETURN_IF_ERROR(write_file(
      dir / "client_key.pem", std::string_view(pem_data, static_cast<size_t>(pem_len)), 0600));
  SLUICE_RETURN_IF_ERROR(write_file(dir / "client_cert.der", der, 0644));
  SLUICE_ASSIGN_OR_RETURN(Certificate certificate, Certificate::from_der(der));
  return ApplicationIdentity{std::move(certificate), std::move(key)};
}

}  // namespace

Result<Bytes> random_bytes(size_t n) {
  Bytes out(n, '\0');
  if (n > static_cast<size_t>(INT_MAX) || RAND_bytes(uc(out), static_cast<int>(n)) != 1)
    return crypto_failure(Code::kInternal, "RAND_bytes");
  return out;
}

Bytes hmac_sha256(std::string_view key, std::string_view data) {
  Bytes out(kSha256Size, '\0');
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), uc(data), data.size(), uc(out), &n);
  out.resize(n);
  return out;
}

Bytes p_sha256(std::string_view secret, std::string_view seed, size_t length) {
  Bytes out;
  out.reserve(length + kSha256Size);
  Bytes a = hmac_sha256(secret, seed);  // A(1)
  while (out.size() < length) {
    Bytes input = a;
    input.append(seed);
    out += hmac_sha256(secret, input);
    a = hmac_sha256(secret, a);
  }
  out.resize(length);
  return out;
}

Bytes sha1(std::string_view data) { return digest(EVP_sha1(), data); }
Bytes sha256(std::string_view data) { return digest(EVP_sha256(), data); }

Result<Bytes> aes256_cbc_encrypt(std::string_view key, std::string_view iv, std::string_view data) {
  return aes256_cbc(true, key, iv, data);
}
Result<Bytes> aes256_cbc_decrypt(std::string_view key, std::string_view iv, std::string_view data) {
  return aes256_cbc(false, key, iv, data);
}

PKey::PKey(EVP_PKEY* adopted) : key_(adopted) {}
PKey::PKey(const PKey& other) : key_(other.key_) {
  if (key_ != nullptr) EVP_PKEY_up_ref(key_);
}
PKey& PKey::operator=(const PKey& other) {
  if (this != &other) {
    PKey copy(other);
    std::swap(key_, copy.key_);
  }
  return *this;
}
PKey::PKey(PKey&& other) noexcept : key_(std::exchange(other.key_, nullptr)) {}
PKey& PKey::operator=(PKey&& other) noexcept {
  std::swap(key_, other.key_);
  return *this;
}
PKey::~PKey() { EVP_PKEY_free(key_); }
size_t PKey::size_bytes() const {
  return key_ == nullptr ? 0 : static_cast<size_t>(EVP_PKEY_get_size(key_));
}

Result<Certificate> Certificate::from_der(std::string_view der) {
  const unsigned char* p = uc(der);
  Owned<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) return crypto_failure(Code::kInvalidArgument, "not a DER X.509 certificate");
  PKey key(X509_get_pubkey(x.get()));
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA)
    return invalid_argument("the certificate's key is not RSA");
  Certificate c;
  // A chain: only the first certificate is this application's.
  c.der_ = Bytes(der.substr(0, static_cast<size_t>(p - uc(der))));
  c.key_ = std::move(key);
  return c;
}

std::string Certificate::application_uri() const {
  const unsigned char* p = uc(der_);
  Owned<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der_.size())));
  if (!x) return {};
  Owned<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(x.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return {};
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type == GEN_URI) {
      const ASN1_IA5STRING* s = n->d.uniformResourceIdentifier;
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    }
  }
  return {};
}

Result<Bytes> rsa_oaep_sha1_encrypt(const PKey& key, std::string_view plain) {
  size_t key_size = key.size_bytes();
  if (key_size <= kOaepSha1Overhead) return invalid_argument("no RSA public key to encrypt with");
  size_t block = key_size - kOaepSha1Overhead;
  Bytes out;
  out.reserve((plain.size() / block + 1) * key_size);
  for (size_t off = 0; off < plain.size(); off += block) {
    std::string_view part = plain.substr(off, block);
    Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
    if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) != 1)
      return crypto_failure(Code::kInternal, "RSA-OAEP init");
    size_t n = key_size;
    size_t at = out.size();
    out.resize(at + key_size);
    if (EVP_PKEY_encrypt(ctx.get(), uc(out) + at, &n, uc(part), part.size()) != 1 || n != key_size)
      return crypto_failure(Code::kInternal, "RSA-OAEP encrypt");
  }
  return out;
}

Result<Bytes> rsa_oaep_sha1_decrypt(const PKey& key, std::string_view cipher) {
  size_t key_size = key.size_bytes();
  if (key_size == 0) return invalid_argument("no RSA private key to decrypt with");
  if (cipher.size() % key_size != 0)
    return corruption("RSA-OAEP cipher text of " + std::to_string(cipher.size()) +
                      " bytes is not a whole number of " + std::to_string(key_size) +
                      "-byte blocks");
  Bytes out;
  out.reserve(cipher.size());
  for (size_t off = 0; off < cipher.size(); off += key_size) {
    Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
    if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) != 1)
      return crypto_failure(Code::kInternal, "RSA-OAEP init");
    size_t n = key_size;
    size_t at = out.size();
    out.resize(at + key_size);
    if (EVP_PKEY_decrypt(ctx.get(), uc(out) + at, &n, uc(cipher) + off, key_size) != 1)
      return crypto_failure(Code::kCorruption, "RSA-OAEP block at offset " + std::to_string(off) +
                                                   " does not decrypt");
    out.resize(at + n);
  }
  return out;
}

Result<Bytes> rsa_sha256_sign(const PKey& key, std::string_view data) {
  if (!key) return invalid_argument("no RSA private key to sign with");
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
    return crypto_failure(Code::kInternal, "RSA-SHA256 sign init");
  size_t n = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &n, uc(data), data.size()) != 1)
    return crypto_failure(Code::kInternal, "RSA-SHA256 sign");
  Bytes sig(n, '\0');
  if (EVP_DigestSign(ctx.get(), uc(sig), &n, uc(data), data.size()) != 1)
    return crypto_failure(Code::kInternal, "RSA-SHA256 sign");
  sig.resize(n);
  return sig;
}

Status rsa_sha256_verify(const PKey& key, std::string_view data, std::string_view signature) {
  if (!key) return invalid_argument("no RSA public key to verify with");
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
    return crypto_failure(Code::kInternal, "RSA-SHA256 verify init");
  if (EVP_DigestVerify(ctx.get(), uc(signature), signature.size(), uc(data), data.size()) != 1) {
    ERR_clear_error();
    return corruption("RSA-SHA256 signature does not verify");
  }
  return Status::ok_status();
}

std::string local_hostname() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf.data();
}

std::string default_application_uri() { return "urn:" + local_hostname() + ":sluice"; }

Result<ApplicationIdentity> load_or_create_identity(const IdentityOptions& options) {
  if (options.directory.empty()) return invalid_argument("no directory for the OPC UA certificate");
  if (options.application_uri.empty())
    return invalid_argument("no ApplicationUri for the certificate");
  std::filesystem::path dir(options.directory);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_error("cannot create " + dir.string() + ": " + ec.message());
  std::filesystem::path cert_path = dir / "client_cert.der";
  std::filesystem::path key_path = dir / "client_key.pem";
  bool have_cert = std::filesystem::exists(cert_path);
  bool have_key = std::filesystem::exists(key_path);
  if (!have_cert && !have_key) return create_identity(options);
  if (have_cert != have_key)
    return failed_precondition(
        "OPC UA identity in " + dir.string() +
        " is incomplete: " + (have_cert ? key_path.string() : cert_path.string()) +
        " is missing; restore it, or delete both files to create a new certificate (which the "
        "servers must then trust again)");

  std::string der;
  SLUICE_RETURN_IF_ERROR(read_file(cert_path, &der));
  auto cert = Certificate::from_der(der);
  if (!cert.ok()) return cert.status().with_context(cert_path.string());
  std::string pem;
  SLUICE_RETURN_IF_ERROR(read_file(key_path, &pem));
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return crypto_failure(Code::kInvalidArgument, key_path.string() + ": not a PEM key");
  if (EVP_PKEY_eq(key.get(), cert->public_key().get()) != 1) {
    ERR_clear_error();
    return failed_precondition(key_path.string() + " is not the key of " + cert_path.string());
  }
  std::string uri = cert->application_uri();
  if (uri != options.application_uri)
    return failed_precondition(cert_path.string() + " is for ApplicationUri '" + uri + "', not '" +
                               options.application_uri +
                               "'; set the configured ApplicationUri to it, or delete the "
                               "certificate and key to create a new one");
  return ApplicationIdentity{std::move(cert).value(), std::move(key)};
}

}  // namespace sluice::opcua
