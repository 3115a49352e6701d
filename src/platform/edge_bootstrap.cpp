// The edge's side of bootstrap: fetch, turn the content into a config, write the files. See
// edge_bootstrap.h.
#include "platform/edge_bootstrap.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace sluice::platform {
namespace {

using nlohmann::json;

constexpr size_t kMaxAnswerBytes = 4u << 20;
constexpr std::string_view kCentralSink = "central";
constexpr std::string_view kChannelSinkType = "channel";

size_t collect(char* data, size_t size, size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * n > kMaxAnswerBytes) return 0;  // ends the transfer
  body->append(data, size * n);
  return size * n;
}

// The central's error message from an error answer ({"error": {"message"}}), or the body.
std::string error_text(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const json& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) {
      return e["message"].get<std::string>();
    }
    if (e.is_string()) return e.get<std::string>();
  }
  return body.substr(0, 200);
}

Result<BootstrapAnswer> parse_answer(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("thing_id") || !j["thing_id"].is_string() ||
      !j.contains("thing_key") || !j["thing_key"].is_string()) {
    return Status(Code::kCorruption,
                  "the bootstrap answer is not a JSON object with thing_id and thing_key");
  }
  BootstrapAnswer a;
  a.thing_id = j["thing_id"].get<std::string>();
  a.thing_key = j["thing_key"].get<std::string>();
  if (j.contains("channels") && j["channels"].is_array()) {
    for (const json& c : j["channels"]) {
      if (!c.is_object() || !c.contains("id") || !c["id"].is_string()) {
        return Status(Code::kCorruption, "the bootstrap answer has a channel without an id");
      }
      BootstrapChannel ch;
      ch.id = c["id"].get<std::string>();
      if (c.contains("name") && c["name"].is_string()) ch.name = c["name"].get<std::string>();
      if (c.contains("metadata")) ch.metadata = c["metadata"];
      a.channels.push_back(std::move(ch));
    }
  }
  if (j.contains("content")) a.content = j["content"];
  return a;
}

// JSON as TOML, into a table or an array; `at` names the value for errors.
Status fill_table(const json& object, const std::string& at, toml::table* out);
Status fill_array(const json& array, const std::string& at, toml::array* out);

// Calls add(value) with the TOML form of a JSON value.
template <typename Add>
Status convert(const json& v, const std::string& at, Add add) {
  switch (v.type()) {
    case json::value_t::boolean: add(v.get<bool>()); return Status::ok_status();
    case json::value_t::number_integer: add(v.get<int64_t>()); return Status::ok_status();
    case json::value_t::number_unsigned:
      if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        return invalid_argument(
            fmt::format("{}: {} is too large for a config integer", at, v.get<uint64_t>()));
      }
      add(static_cast<int64_t>(v.get<uint64_t>()));
      return Status::ok_status();
    case json::value_t::number_float: add(v.get<double>()); return Status::ok_status();
    case json::value_t::string: add(v.get<std::string>()); return Status::ok_status();
    case json::value_t::object: {
      toml::table t;
      SLUICE_RETURN_IF_ERROR(fill_table(v, at, &t));
      add(std::move(t));
      return Status::ok_status();
    }
    case json::value_t::array: {
      toml::array a;
      SLUICE_RETURN_IF_ERROR(fill_array(v, at, &a));
      add(std::move(a));
      return Status::ok_status();
    }
    default: return invalid_argument(fmt::format("{}: null has no TOML form; remove it", at));
  }
}

Status fill_table(const json& object, const std::string& at, toml::table* out) {
  for (const auto& [key, value] : object.items()) {
    SLUICE_RETURN_IF_ERROR(convert(value, at + "." + key, [&, k = key](auto&& node) {
      out->insert(k, std::forward<decltype(node)>(node));
    }));
  }
  return Status::ok_status();
}

Status fill_array(const json& array, const std::string& at, toml::array* out) {
  size_t i = 0;
  for (const json& e : array) {
    SLUICE_RETURN_IF_ERROR(convert(e, fmt::format("{}[{}]", at, i++), [&](auto&& node) {
      out->push_back(std::forward<decltype(node)>(node));
    }));
  }
  return Status::ok_status();
}

// Writes `text` to `path` through a temporary file, fsync and rename, mode 0600.
Status write_private(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status(Code::kIoError, fmt::format("{}: {}", tmp, std::strerror(errno)));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return Status(Code::kIoError, fmt::format("{}: {}", tmp, std::strerror(e)));
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status(Code::kIoError, fmt::format("{}: {}", path, std::strerror(errno)));
  }
  return Status::ok_status();
}

}  // namespace

Result<BootstrapAnswer> fetch_bootstrap(const EdgeBootstrapOptions& options) {
  if (!options.url.starts_with("http://") && !options.url.starts_with("https://")) {
    return invalid_argument(
        fmt::format("bootstrap URL '{}' is not http:// or https://", options.url));
  }
  std::string base = options.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status(Code::kInternal, "curl_easy_init failed");
  char* escaped = curl_easy_escape(curl, options.external_id.c_str(),
                                   static_cast<int>(options.external_id.size()));
  const std::string url = fmt::format("{}/things/bootstrap/{}{}", base,
                                      options.decryption_key ? "secure/" : "", escaped);
  curl_free(escaped);
  const std::string authorization = "Authorization: Thing " + options.external_key;
  curl_slist* headers = curl_slist_append(nullptr, authorization.c_str());
  std::string body;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  if (options.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return Status(Code::kUnavailable, fmt::format("bootstrap from {}: {}", base,
                                                  error[0] != 0 ? error : curl_easy_strerror(rc)));
  }
  const std::string said =
      fmt::format("{} answered {} to external id '{}': ", base, status, options.external_id);
  switch (status) {
    case 200: break;
    case 401: return Status(Code::kUnauthenticated, said + error_text(body));
    case 403:
      return Status(Code::kPermissionDenied,
                    said + error_text(body) + " (is the external key right?)");
    case 404: return not_found(said + error_text(body));
    case 409: return failed_precondition(said + error_text(body));
    default: return Status(Code::kUnavailable, said + error_text(body));
  }
  if (options.decryption_key) {
    Result<std::string> plain = decrypt_answer(*options.decryption_key, body);
    if (!plain.ok()) {
      return Status(Code::kCorruption, fmt::format("bootstrap from {}: the sealed answer: {}", base,
                                                   plain.status().message()));
    }
    body = std::move(plain).value();
  }
  Result<BootstrapAnswer> answer = parse_answer(body);
  if (!answer.ok()) return answer.status().with_context("bootstrap from " + base);
  return answer;
}

Result<std::string> edge_config(const BootstrapAnswer& answer, const std::string& url) {
  json content = answer.content.is_null() ? json::object() : answer.content;
  if (!content.is_object()) {
    return invalid_argument(
        "the bootstrap content is not a JSON object (a Sluice config: {\"sources\": [...], "
        "\"sinks\": [...]})");
  }
  if (!content.contains("store")) content["store"] = json::object();
  if (!content["store"].is_object()) return invalid_argument("content.store: not an object");
  if (!content["store"].contains("dir")) content["store"]["dir"] = "data";
  if (!content.contains("sinks")) content["sinks"] = json::array();
  if (!content["sinks"].is_array()) return invalid_argument("content.sinks: not an array");
  bool has_channel_sink = false;
  for (json& sink : content["sinks"]) {
    if (!sink.is_object() || sink.value("type", "") != kChannelSinkType) continue;
    has_channel_sink = true;
    if (!sink.contains("url")) sink["url"] = url;
    if (!sink.contains("key") && !sink.contains("key_file")) sink["key_file"] = "thing.key";
    if (!sink.contains("channel")) {
      if (answer.channels.empty()) {
        return invalid_argument(
            "content.sinks: a channel sink without a channel, and the "
            "bootstrap config has no channels");
      }
      sink["channel"] = answer.channels.front().id;
    }
  }
  if (!has_channel_sink && !answer.channels.empty()) {
    content["sinks"].push_back({{"name", kCentralSink},
                                {"type", kChannelSinkType},
                                {"url", url},
                                {"channel", answer.channels.front().id},
                                {"key_file", "thing.key"}});
  }
  if (content["sinks"].empty()) content.erase("sinks");
  toml::table t;
  SLUICE_RETURN_IF_ERROR(fill_table(content, "content", &t));
  std::ostringstream out;
  out << "# Made by `sluice run --bootstrap` from the answer of " << url << " for thing "
      << answer.thing_id << ".\n# Changes here are replaced at the next bootstrap.\n\n"
      << t << "\n";
  return out.str();
}

Result<std::string> write_edge_files(const std::string& dir, const BootstrapAnswer& answer,
                                     const std::string& config_text) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(Code::kIoError, fmt::format("{}: {}", dir, ec.message()));
  json record = answer_json(answer);
  record.erase("thing_key");
  SLUICE_RETURN_IF_ERROR(write_private(dir + "/thing.key", answer.thing_key + "\n"));
  SLUICE_RETURN_IF_ERROR(write_private(dir + "/bootstrap.json", record.dump(2) + "\n"));
  const std::string config = dir + "/sluice.toml";
  SLUICE_RETURN_IF_ERROR(write_private(config, config_text));
  return config;
}

}  // namespace sluice::platform
