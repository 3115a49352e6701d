// What the adapters (HTTP and MQTT) do with a thing's message: pick the payload's format, parse
// it with the formats' own parsers, and name its series and labels by where it came from.
//
//   format:  SenML JSON (RFC 8428: an array of records, base fields and relative times) when
//            the content type says application/senml+json or the payload is a JSON array; a
//            plain JSON object ({"temperature": 21.5}: one series per member) when it says
//            application/json or the payload is an object. Anything else is refused.
//   series:  <channel id>[.<subtopic, '/' as '.'>].<name>, where name is SenML's bn+n or the
//            object's member.
//   labels:  channel (its id), channel_name, subtopic, protocol ("http", "mqtt"), publisher
//            (the thing's id, when the adapter knows it: HTTP always; MQTT cannot tell,
//            because the broker does not say who published) and org.
// Every sample of the message is kept, also two that share a series and a timestamp.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "formats/parser.h"

namespace sluice::platform {

struct Message {
  std::string_view channel;  // the channel's id
  std::string_view channel_name;
  std::string_view org;
  std::string_view subtopic;      // "" or e.g. "room1/temp" (no leading or trailing '/')
  std::string_view publisher;     // the thing's id; "" when unknown
  std::string_view protocol;      // "http", "mqtt"
  std::string_view content_type;  // "" when the protocol has none
  std::string_view payload;
  Timestamp receive_time = 0;
};

// Checks a subtopic from a URL path or an MQTT topic (after "messages/"): segments of
// [A-Za-z0-9_.-] separated by '/', no empty segment, at most 256 characters. kInvalidArgument
// naming what is wrong.
Status check_subtopic(std::string_view subtopic);

// The series prefix of a channel and subtopic: "<channel>." or "<channel>.<a>.<b>.".
std::string series_prefix(std::string_view channel, std::string_view subtopic);

// Parses messages into samples. One per thread (the parsers keep their buffers).
class MessageNormalizer {
 public:
  explicit MessageNormalizer(formats::ParseLimits limits = {});
  ~MessageNormalizer();
  MessageNormalizer(const MessageNormalizer&) = delete;
  MessageNormalizer& operator=(const MessageNormalizer&) = delete;

  // Appends the message's samples and their series metadata to `out`; on an error (which
  // says what and where, e.g. "SenML record 2: ...") `out` is unchanged.
  Status normalize(const Message& message, formats::Parsed* out);

 private:
  std::unique_ptr<formats::PayloadParser> senml_;
  std::unique_ptr<formats::PayloadParser> object_;
};

}  // namespace sluice::platform
