// The cryptography of OPC UA's Basic256Sha256 security policy (Part 7) on OpenSSL 3, for the
// secure channel (secure_channel.h) and the session layer: RSA-OAEP-SHA1 for the OpenSecureChannel
// messages and encrypted user tokens, RSA-PKCS#1 v1.5 SHA-256 signatures, P_SHA256 key derivation,
// HMAC-SHA256 and AES-256-CBC (no padding: the channel pads itself) for every later message, and
// the client's application instance certificate (self-signed RSA 2048, created on first use).
//
// Errors never throw: every OpenSSL failure comes back as a Status with OpenSSL's reason.
// Keys and certificates are immutable after construction and safe to use from several threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "protocols/opcua/binary.h"

typedef struct evp_pkey_st EVP_PKEY;  // NOLINT(modernize-use-using): OpenSSL's own declaration

namespace sluice::opcua {

// Sizes fixed by Basic256Sha256 (Part 7).
inline constexpr size_t kSha256Size = 32;
inline constexpr size_t kSha1Size = 20;
inline constexpr size_t kAesBlockSize = 16;
inline constexpr size_t kAes256KeySize = 32;
// RSA-OAEP with SHA-1 leaves key size - 2 * 20 - 2 bytes of plain text per block.
inline constexpr size_t kOaepSha1Overhead = 2 * kSha1Size + 2;

// Cryptographically random bytes (OpenSSL's RAND_bytes).
Result<Bytes> random_bytes(size_t n);

// P_SHA256 of RFC 5246 5 (the TLS 1.2 PRF without its label): `length` bytes of
// HMAC_SHA256(secret, A(1) + seed) || HMAC_SHA256(secret, A(2) + seed) || ...
// Part 6 6.7.5 derives the channel's keys with it.
Bytes p_sha256(std::string_view secret, std::string_view seed, size_t length);

Bytes hmac_sha256(std::string_view key, std::string_view data);
Bytes sha1(std::string_view data);
Bytes sha256(std::string_view data);

// AES-256-CBC without padding: `data` must be a whole number of 16-byte blocks, key 32 bytes,
// iv 16 bytes (kInvalidArgument otherwise).
Result<Bytes> aes256_cbc_encrypt(std::string_view key, std::string_view iv, std::string_view data);
Result<Bytes> aes256_cbc_decrypt(std::string_view key, std::string_view iv, std::string_view data);

// Shared, reference-counted handle to an OpenSSL key (public, or public and private).
class PKey {
 public:
  PKey() = default;
  explicit PKey(EVP_PKEY* adopted);  // takes the reference
  PKey(const PKey& other);
  PKey& operator=(const PKey& other);
  PKey(PKey&& other) noexcept;
  PKey& operator=(PKey&& other) noexcept;
  ~PKey();

  EVP_PKEY* get() const { return key_; }
  explicit operator bool() const { return key_ != nullptr; }
  // The RSA modulus in bytes (256 for RSA 2048); 0 for no key.
  size_t size_bytes() const;

 private:
  EVP_PKEY* key_ = nullptr;
};

// A DER X.509 certificate with its public key.
class Certificate {
 public:
  Certificate() = default;
  // Parses `der` (one certificate; a chain's first). kInvalidArgument if it is not one or its key
  // is not RSA.
  static Result<Certificate> from_der(std::string_view der);

  const Bytes& der() const { return der_; }
  const PKey& public_key() const { return key_; }
  size_t key_size_bytes() const { return key_.size_bytes(); }
  // SHA-1 of the DER bytes: the ReceiverCertificateThumbprint of the asymmetric header.
  Bytes thumbprint() const { return sha1(der_); }
  // The first URI in subjectAltName ("" if none): the application's ApplicationUri.
  std::string application_uri() const;
  bool empty() const { return der_.empty(); }

 private:
  Bytes der_;
  PKey key_;
};

// RSA-OAEP (SHA-1) of `plain` for `key`, block by block (key size - 42 bytes of plain text per
// key-size block of cipher text).
Result<Bytes> rsa_oaep_sha1_encrypt(const PKey& key, std::string_view plain);
// The inverse, with the private key; kCorruption if the length is not a whole number of blocks
// or a block does not decrypt.
Result<Bytes> rsa_oaep_sha1_decrypt(const PKey& key, std::string_view cipher);
// RSA PKCS#1 v1.5 signature with SHA-256 (signature size = key size).
Result<Bytes> rsa_sha256_sign(const PKey& key, std::string_view data);
// ok, or kCorruption ("signature does not verify").
Status rsa_sha256_verify(const PKey& key, std::string_view data, std::string_view signature);

// The client's application instance certificate and its private key.
struct ApplicationIdentity {
  Certificate certificate;
  PKey private_key;
};

struct IdentityOptions {
  std::string directory;        // created if missing (0700)
  std::string application_uri;  // e.g. urn:<hostname>:sluice; goes into subjectAltName URI
  std::string hostname;         // subjectAltName DNS and the subject's CN suffix
  std::string common_name = "Sluice";
  int valid_days = 3650;
};

// Loads <directory>/client_cert.der and <directory>/client_key.pem, or creates them (a
// self-signed RSA 2048 certificate, SHA-256, with subjectAltName URI and DNS, key usages
// digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, keyCertSign, extended
// key usages clientAuth and serverAuth; the key file 0600). An existing certificate whose URI
// differs from application_uri is an error (kFailedPrecondition naming the file): a server
// trusts a certificate, so it is never replaced silently.
Result<ApplicationIdentity> load_or_create_identity(const IdentityOptions& options);

// The default ApplicationUri for this machine: "urn:<hostname>:sluice".
std::string default_application_uri();
std::string local_hostname();

}  // namespace sluice::opcua
