// TLS identity: the certificate and private key a Sluice instance shows on the gRPC forward link
// (DESIGN.md). Every instance has one: the operator configures a cert/key pair, or on
// first start a self-signed one is generated under <data dir>/tls and reused afterwards. A
// receiver may accept senders by the SHA-256 fingerprint of their client certificate, which is
// what certificate_fingerprint() computes and fingerprints_equal() compares.
//
// Thread safety: the functions hold no shared state; they may be called from any thread.
// Errors name the file involved and carry OpenSSL's own error text.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace sluice::net {

struct TlsIdentity {
  std::string cert_pem;   // the certificate file's content (leaf first, then any chain)
  std::string key_pem;    // the unencrypted private key, PEM
  std::string cert_file;  // where they were read from or written to
  std::string key_file;
  bool generated = false;  // true if this call created them
};

// Returns the instance's TLS identity.
//  - cert_file and key_file both set: reads them. Fails (naming the file) if one is missing,
//    unreadable, not a PEM certificate / unencrypted private key, or if the key does not belong
//    to the certificate (naming both files). Giving only one of the two is an error.
//  - both empty: uses <default_dir>/tls/cert.pem and <default_dir>/tls/key.pem. If the
//    certificate is there, loads the pair as above. If it is not, generates an EC P-256 key and
//    a self-signed certificate (CN=common_name, SAN localhost, common_name if it is a DNS name,
//    127.0.0.1, ::1; valid from an hour ago for ten years) and writes both durably: the tls
//    folder is created with mode 0700, the key with mode 0600; each file is written to a
//    temporary name, synced, renamed into place and its directory synced. The key is written
//    before the certificate, so a crash in between leaves a key without a certificate, which
//    the next start replaces; a certificate without its key is an error, never overwritten.
// The files are never written when the operator named them.
Result<TlsIdentity> load_or_create_identity(const std::string& cert_file,
                                            const std::string& key_file,
                                            const std::string& default_dir,
                                            const std::string& common_name);

// The SHA-256 fingerprint of the (first) certificate in `cert_pem`, over its DER encoding, as
// lowercase hex pairs joined by colons ("ab:cd:..."; 95 characters). `openssl x509 -noout
// -fingerprint -sha256` prints the same digest in uppercase: compare with fingerprints_equal.
Result<std::string> certificate_fingerprint(std::string_view cert_pem);

// True if the two fingerprints name the same digest, ignoring case and colons, so that a
// fingerprint pasted from openssl's output matches ours. An empty fingerprint, or one with
// anything but hex digits and colons, equals nothing (not even itself): a blank allow-list
// entry must never admit a sender.
bool fingerprints_equal(std::string_view a, std::string_view b);

// Reads a PEM file of at most 1 MiB; `what` names it in errors ("TLS certificate").
// Fails with kNotFound if it is missing and kInvalidArgument if it holds no PEM block.
Result<std::string> read_pem_file(const std::string& path, std::string_view what);

}  // namespace sluice::net
