// Message normalization for the adapters. See messages.h.
#include "platform/messages.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "formats/json.h"
#include "formats/senml.h"

namespace sluice::platform {
namespace {

constexpr size_t kMaxSubtopic = 256;

// The media type without parameters, lower case ("application/json; charset=utf-8" →
// "application/json").
std::string media_type(std::string_view content_type) {
  std::string out(content_type.substr(0, content_type.find(';')));
  while (!out.empty() && out.back() == ' ') out.pop_back();
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

char first_non_space(std::string_view payload) {
  for (char c : payload) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return c;
  }
  return '\0';
}

}  // namespace

Status check_subtopic(std::string_view subtopic) {
  if (subtopic.size() > kMaxSubtopic) {
    return invalid_argument(
        fmt::format("subtopic: {} characters, at most {}", subtopic.size(), kMaxSubtopic));
  }
  size_t start = 0;
  while (start <= subtopic.size() && !subtopic.empty()) {
    const size_t end = std::min(subtopic.find('/', start), subtopic.size());
    const std::string_view seg = subtopic.substr(start, end - start);
    if (seg.empty()) {
      return invalid_argument(fmt::format("subtopic '{}': an empty segment", subtopic));
    }
    for (char c : seg) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
        return invalid_argument(fmt::format(
            "subtopic '{}': '{}' is not allowed (letters, digits, '_', '-', '.' and '/')", subtopic,
            c));
      }
    }
    start = end + 1;
  }
  return Status::ok_status();
}

std::string series_prefix(std::string_view channel, std::string_view subtopic) {
  std::string out(channel);
  out.push_back('.');
  for (char c : subtopic) out.push_back(c == '/' ? '.' : c);
  if (!subtopic.empty()) out.push_back('.');
  return out;
}

MessageNormalizer::MessageNormalizer(formats::ParseLimits limits)
    : senml_(std::make_unique<formats::SenmlParser>(limits)),
      object_(std::make_unique<formats::JsonParser>(formats::JsonOptions{.flat = true}, limits)) {}

MessageNormalizer::~MessageNormalizer() = default;

Status MessageNormalizer::normalize(const Message& m, formats::Parsed* out) {
  const std::string type = media_type(m.content_type);
  const char first = first_non_space(m.payload);
  bool senml = false;
  if (type == "application/senml+json") {
    senml = true;
  } else if (type.empty() || type == "application/json") {
    if (first == '[') {
      senml = true;
    } else if (first != '{') {
      return invalid_argument(
          "the payload is neither SenML JSON (an array of records) nor a JSON object");
    }
  } else {
    return invalid_argument(fmt::format(
        "content type '{}' is not accepted: send application/senml+json or application/json",
        type));
  }
  formats::Parsed parsed;
  const formats::ParseContext ctx{"", m.receive_time};
  Status st = (senml ? senml_ : object_)->parse(m.payload, ctx, &parsed);
  if (!st.ok()) return st.with_context(senml ? "SenML JSON" : "JSON object");

  const std::string prefix = series_prefix(m.channel, m.subtopic);
  std::map<std::string, std::string> labels = {{"channel", std::string(m.channel)},
                                               {"channel_name", std::string(m.channel_name)},
                                               {"protocol", std::string(m.protocol)},
                                               {"org", std::string(m.org)}};
  if (!m.subtopic.empty()) labels["subtopic"] = std::string(m.subtopic);
  if (!m.publisher.empty()) labels["publisher"] = std::string(m.publisher);
  std::map<std::string, size_t> meta_of;  // series -> index in parsed.meta
  for (size_t i = 0; i < parsed.meta.size(); ++i) {
    parsed.meta[i].name = prefix + parsed.meta[i].name;
    meta_of[parsed.meta[i].name] = i;
  }
  for (Sample& s : parsed.batch.samples) {
    s.series = prefix + s.series;
    auto [it, added] = meta_of.emplace(s.series, parsed.meta.size());
    if (added) {
      SeriesMeta meta;
      meta.name = s.series;
      meta.type = value_type(s.value);
      parsed.meta.push_back(std::move(meta));
    }
  }
  for (SeriesMeta& meta : parsed.meta) {
    for (const auto& [k, v] : labels) meta.labels[k] = v;
  }
  for (Sample& s : parsed.batch.samples) out->batch.samples.push_back(std::move(s));
  for (SeriesMeta& meta : parsed.meta) out->meta.push_back(std::move(meta));
  return Status::ok_status();
}

}  // namespace sluice::platform
