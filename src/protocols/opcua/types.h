// OPC UA's built-in data types (Part 6, 5.1.2 and 5.2.2) as C++ values, their binary encoding
// and decoding, and the text form of node ids. Service messages (services.h) are built from
// these; the session layer turns Variants into Sluice Values (to_value) and back (from_value).
//
// Encoding never fails. Decoding reads through a Reader (binary.h), whose first failure
// sticks: a decoder returns a default value after a failure and the caller checks
// reader.status() once. Nested values (Variant in Variant, DataValue in Variant,
// DiagnosticInfo in DiagnosticInfo) count against Reader's nesting limit, and every decoded
// array is charged against Reader's allocation budget before it is allocated.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/sample.h"
#include "core/status.h"
#include "protocols/opcua/binary.h"

namespace sluice::opcua {

// A 32-bit status code (Part 4, 7.34); Sluice's sample quality is the same number.
using StatusCode = uint32_t;
// 100 ns ticks since 1601-01-01 UTC; 0 means "no time" (binary.h converts to Unix ns).
using DateTime = int64_t;

// The built-in types (Part 6, 5.1.2); the number is the type's id on the wire and its
// DataType NodeId in namespace 0.
enum class BuiltinType : uint8_t {
  kNull = 0,
  kBoolean = 1,
  kSByte = 2,
  kByte = 3,
  kInt16 = 4,
  kUInt16 = 5,
  kInt32 = 6,
  kUInt32 = 7,
  kInt64 = 8,
  kUInt64 = 9,
  kFloat = 10,
  kDouble = 11,
  kString = 12,
  kDateTime = 13,
  kGuid = 14,
  kByteString = 15,
  kXmlElement = 16,
  kNodeId = 17,
  kExpandedNodeId = 18,
  kStatusCode = 19,
  kQualifiedName = 20,
  kLocalizedText = 21,
  kExtensionObject = 22,
  kDataValue = 23,
  kVariant = 24,
  kDiagnosticInfo = 25,
};
inline constexpr uint8_t kMaxBuiltinType = 25;
// "Double", "ExtensionObject", ... ("BuiltinType(N)" for an id outside 0..25).
std::string builtin_type_name(BuiltinType type);
// "double" -> kDouble, case-insensitive; for configuration that names a type to write.
std::optional<BuiltinType> builtin_type_from_name(std::string_view name);

// "09087e75-8e5e-499b-954f-f2a9603db28a" (lower case); parse accepts either case.
std::string guid_to_string(const Guid& g);
Result<Guid> parse_guid(std::string_view text);

// Standard base64 with padding, as the "b=" form of a node id and the JSON encoding use it.
std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);

// ---------------------------------------------------------------------------------------------
// NodeId (Part 6, 5.2.2.9): a namespace index and one of four identifier kinds. Build one with
// the factories so that the fields a kind does not use stay default (equality compares all).
struct NodeId {
  enum class Kind : uint8_t { kNumeric, kString, kGuid, kOpaque };

  uint16_t ns = 0;
  Kind kind = Kind::kNumeric;
  uint32_t numeric = 0;  // kNumeric
  std::string text;      // kString: the string; kOpaque: the ByteString's bytes
  Guid guid;             // kGuid

  static NodeId make_numeric(uint16_t ns, uint32_t id);
  static NodeId make_string(uint16_t ns, std::string s);
  static NodeId make_guid(uint16_t ns, const Guid& g);
  static NodeId make_opaque(uint16_t ns, std::string bytes);

  // ns=0;i=0, the null NodeId (Part 3, 8.2.4: also an empty string/guid/opaque id in ns 0).
  bool is_null() const;
  // "i=85", "ns=2;s=Motor.Speed", "ns=1;g=<guid>", "ns=1;b=<base64>" (Part 6, 5.3.1.10).
  std::string to_string() const;
  // The forms above; kInvalidArgument names the text and what is wrong. A "nsu=" form is
  // refused here (it needs the server's namespace table): use ExpandedNodeId::parse.
  static Result<NodeId> parse(std::string_view text);

  bool operator==(const NodeId&) const = default;
  auto operator<=>(const NodeId&) const = default;
};

// ExpandedNodeId (Part 6, 5.2.2.10): a NodeId that may name its namespace by URI instead of
// index and may live on another server. With a namespace_uri, node_id.ns is not encoded.
struct ExpandedNodeId {
  NodeId node_id;
  std::string namespace_uri;  // empty: node_id.ns is the namespace
  uint32_t server_index = 0;  // 0: this server

  bool is_local() const { return server_index == 0; }
  // "svr=1;nsu=http://x/;s=Motor" style; parts that are default are left out.
  std::string to_string() const;
  // Every NodeId text form, plus "nsu=<uri>;" instead of "ns=N;" and a leading "svr=N;".
  static Result<ExpandedNodeId> parse(std::string_view text);

  bool operator==(const ExpandedNodeId&) const = default;
  auto operator<=>(const ExpandedNodeId&) const = default;
};

// A NodeId from an ExpandedNodeId whose namespace URI is looked up in the server's
// NamespaceArray (Server_NamespaceArray, i=2255). kNotFound if the URI is not there,
// kInvalidArgument if it names another server.
Result<NodeId> resolve(const ExpandedNodeId& id, const std::vector<std::string>& namespace_array);

// Parses any text form and resolves "nsu=" against namespace_array: what a configuration
// that names tags by URI needs.
Result<NodeId> parse_node_id(std::string_view text,
                             const std::vector<std::string>& namespace_array);

struct QualifiedName {
  uint16_t ns = 0;
  std::string name;
  // "Name" or "2:Name" (the browse-path text form).
  std::string to_string() const;
  bool operator==(const QualifiedName&) const = default;
};

// Encoded with a mask: an empty locale or text is not encoded (and decodes as empty).
struct LocalizedText {
  std::string locale;
  std::string text;
  bool operator==(const LocalizedText&) const = default;
};

// ExtensionObject (Part 6, 5.2.2.15): a structure that is not a built-in type, kept as its
// encoding NodeId (e.g. i=886, Range_Encoding_DefaultBinary) and its encoded body. Structures
// Sluice knows are decoded from the body on demand (services.h: decode_extension<T>).
struct ExtensionObject {
  enum class Encoding : uint8_t { kNone = 0, kBinary = 1, kXml = 2 };
  NodeId type_id;
  Encoding encoding = Encoding::kNone;
  std::string body;  // ByteString (kBinary) or XmlElement (kXml); empty with kNone

  bool is_null() const { return encoding == Encoding::kNone && type_id.is_null(); }
  bool operator==(const ExtensionObject&) const = default;
};

// DiagnosticInfo (Part 6, 5.2.2.12): every field optional; inner holds zero or one nested
// DiagnosticInfo (a vector so the type stays a plain copyable value).
struct DiagnosticInfo {
  std::optional<int32_t> symbolic_id;
  std::optional<int32_t> namespace_uri;
  std::optional<int32_t> locale;
  std::optional<int32_t> localized_text;
  std::optional<std::string> additional_info;
  std::optional<StatusCode> inner_status_code;
  std::vector<DiagnosticInfo> inner;  // size 0 or 1

  bool empty() const;
  bool operator==(const DiagnosticInfo&) const;
};

struct DataValue;
class Variant;

namespace detail {
// The C++ element type each built-in type is stored as. String, ByteString and XmlElement
// share std::string; UInt32 and StatusCode share uint32_t; Int64 and DateTime share int64_t.
template <BuiltinType B>
struct Storage;
// clang-format off
template <> struct Storage<BuiltinType::kBoolean> { using type = bool; };
template <> struct Storage<BuiltinType::kSByte> { using type = int8_t; };
template <> struct Storage<BuiltinType::kByte> { using type = uint8_t; };
template <> struct Storage<BuiltinType::kInt16> { using type = int16_t; };
template <> struct Storage<BuiltinType::kUInt16> { using type = uint16_t; };
template <> struct Storage<BuiltinType::kInt32> { using type = int32_t; };
template <> struct Storage<BuiltinType::kUInt32> { using type = uint32_t; };
template <> struct Storage<BuiltinType::kInt64> { using type = int64_t; };
template <> struct Storage<BuiltinType::kUInt64> { using type = uint64_t; };
template <> struct Storage<BuiltinType::kFloat> { using type = float; };
template <> struct Storage<BuiltinType::kDouble> { using type = double; };
template <> struct Storage<BuiltinType::kString> { using type = std::string; };
template <> struct Storage<BuiltinType::kDateTime> { using type = int64_t; };
template <> struct Storage<BuiltinType::kGuid> { using type = Guid; };
template <> struct Storage<BuiltinType::kByteString> { using type = std::string; };
template <> struct Storage<BuiltinType::kXmlElement> { using type = std::string; };
template <> struct Storage<BuiltinType::kNodeId> { using type = NodeId; };
template <> struct Storage<BuiltinType::kExpandedNodeId> { using type = ExpandedNodeId; };
template <> struct Storage<BuiltinType::kStatusCode> { using type = uint32_t; };
template <> struct Storage<BuiltinType::kQualifiedName> { using type = QualifiedName; };
template <> struct Storage<BuiltinType::kLocalizedText> { using type = LocalizedText; };
template <> struct Storage<BuiltinType::kExtensionObject> { using type = ExtensionObject; };
template <> struct Storage<BuiltinType::kDataValue> { using type = DataValue; };
template <> struct Storage<BuiltinType::kVariant> { using type = Variant; };
template <> struct Storage<BuiltinType::kDiagnosticInfo> { using type = DiagnosticInfo; };
// clang-format on
}  // namespace detail

template <BuiltinType B>
using StorageType = typename detail::Storage<B>::type;

// Variant (Part 6, 5.2.2.16): null, or a scalar or an array of one built-in type, with
// optional array dimensions (multi-dimensional arrays are stored flat, in the wire's order:
// the last dimension varies fastest). A scalar is stored as an array of one element.
//
//   Variant v = Variant::of<BuiltinType::kDouble>(21.5);
//   if (const double* d = v.scalar<double>()) ...   (a Boolean: v.boolean())
//   Variant a = Variant::array_of<BuiltinType::kString>({"urn:a", "urn:b"});
//   if (const std::vector<std::string>* uris = v.array<std::string>()) ...
class Variant {
 public:
  using Values = std::variant<
      std::monostate, std::vector<bool>, std::vector<int8_t>, std::vector<uint8_t>,
      std::vector<int16_t>, std::vector<uint16_t>, std::vector<int32_t>, std::vector<uint32_t>,
      std::vector<int64_t>, std::vector<uint64_t>, std::vector<float>, std::vector<double>,
      std::vector<std::string>, std::vector<Guid>, std::vector<NodeId>, std::vector<ExpandedNodeId>,
      std::vector<QualifiedName>, std::vector<LocalizedText>, std::vector<ExtensionObject>,
      std::vector<DataValue>, std::vector<Variant>, std::vector<DiagnosticInfo>>;

  Variant() = default;  // null

  template <BuiltinType B>
  static Variant of(StorageType<B> value);
  // dimensions: empty for a one-dimensional array; else their product must equal the size.
  template <BuiltinType B>
  static Variant array_of(std::vector<StorageType<B>> values, std::vector<int32_t> dimensions = {});

  BuiltinType type() const { return type_; }
  bool is_null() const { return type_ == BuiltinType::kNull; }
  bool is_array() const { return is_array_; }
  bool is_scalar() const { return !is_null() && !is_array_; }
  // Elements (1 for a scalar, 0 for null).
  size_t size() const;
  const std::vector<int32_t>& dimensions() const { return dimensions_; }

  // The scalar if this is a scalar stored as T (see detail::Storage), else nullptr. Check
  // type() too where T is shared (std::string, uint32_t, int64_t).
  template <typename T>
  const T* scalar() const {
    static_assert(!std::is_same_v<T, bool>, "std::vector<bool> has no bool&: use boolean()");
    if (is_array_) return nullptr;
    const auto* v = std::get_if<std::vector<T>>(&values_);
    return v != nullptr && v->size() == 1 ? &(*v)[0] : nullptr;
  }
  // The scalar Boolean, or nullopt if this is not one.
  std::optional<bool> boolean() const {
    const auto* v = std::get_if<std::vector<bool>>(&values_);
    if (is_array_ || v == nullptr || v->size() != 1) return std::nullopt;
    return (*v)[0];
  }
  // The elements if this is an array stored as T, else nullptr.
  template <typename T>
  const std::vector<T>* array() const {
    return is_array_ ? std::get_if<std::vector<T>>(&values_) : nullptr;
  }
  const Values& values() const { return values_; }

  bool operator==(const Variant& other) const;

 private:
  friend void decode(Reader& r, Variant& v);
  BuiltinType type_ = BuiltinType::kNull;
  bool is_array_ = false;
  std::vector<int32_t> dimensions_;
  Values values_;
};

// DataValue (Part 6, 5.2.2.17). What is encoded follows the values: a null value, a Good
// status, a zero timestamp or zero picoseconds are left out of the mask (and decode as such).
struct DataValue {
  Variant value;
  StatusCode status = 0;
  DateTime source_timestamp = 0;
  uint16_t source_picoseconds = 0;  // 10 ps units, 0..9999
  DateTime server_timestamp = 0;
  uint16_t server_picoseconds = 0;
  bool operator==(const DataValue&) const = default;
};

// Defined here, where DataValue is complete (a Variant may hold DataValues).
template <BuiltinType B>
Variant Variant::of(StorageType<B> value) {
  Variant v;
  v.type_ = B;
  v.values_ = std::vector<StorageType<B>>{std::move(value)};
  return v;
}
template <BuiltinType B>
Variant Variant::array_of(std::vector<StorageType<B>> values, std::vector<int32_t> dimensions) {
  Variant v;
  v.type_ = B;
  v.is_array_ = true;
  v.values_ = std::move(values);
  v.dimensions_ = std::move(dimensions);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Binary encoding of each built-in type. decode() leaves a default value on failure; the
// Reader holds the error.
void encode(Writer& w, const NodeId& v);
void encode(Writer& w, const ExpandedNodeId& v);
void encode(Writer& w, const QualifiedName& v);
void encode(Writer& w, const LocalizedText& v);
void encode(Writer& w, const ExtensionObject& v);
void encode(Writer& w, const DiagnosticInfo& v);
void encode(Writer& w, const Variant& v);
void encode(Writer& w, const DataValue& v);

void decode(Reader& r, NodeId& v);
void decode(Reader& r, ExpandedNodeId& v);
void decode(Reader& r, QualifiedName& v);
void decode(Reader& r, LocalizedText& v);
void decode(Reader& r, ExtensionObject& v);
void decode(Reader& r, DiagnosticInfo& v);
void decode(Reader& r, Variant& v);
void decode(Reader& r, DataValue& v);

// One value from a whole buffer: kCorruption (with the offset) if it is malformed or if bytes
// are left over.
template <typename T>
Result<T> decode_all(std::string_view bytes) {
  Reader r(bytes);
  T v{};
  decode(r, v);
  if (r.ok() && !r.at_end()) r.fail("value", "trailing bytes after the value");
  if (!r.ok()) return r.status();
  return v;
}
template <typename T>
Bytes encode_to_bytes(const T& v) {
  Bytes out;
  Writer w(&out);
  encode(w, v);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Variant <-> Sluice Value.
//
// to_value: a scalar Boolean -> bool; SByte..Int64, UInt64 up to INT64_MAX, StatusCode ->
// int64; UInt64 above INT64_MAX, Float, Double -> double; String, XmlElement -> string;
// LocalizedText -> its text; DateTime -> int64 Unix ns; Guid, NodeId, ExpandedNodeId,
// QualifiedName -> their text form; ByteString -> base64 text. Null, arrays, ExtensionObject,
// DataValue, Variant and DiagnosticInfo give kInvalidArgument saying which type it was.
Result<Value> to_value(const Variant& v);

// from_value: a Variant scalar of `type` for a write. Numbers convert between double, int64
// and bool only when exact and in range (21.0 -> Int16 21; 21.5 -> Int16 and 70000 -> Int16
// are refused; Float takes any finite double up to FLT_MAX); a string converts to String,
// XmlElement, ByteString (its bytes), LocalizedText (text, no locale), NodeId (text form),
// Guid (text form) or a number it spells exactly ("42" -> Int32); int64 -> DateTime is Unix
// ns. kInvalidArgument says the value, the type and why.
Result<Variant> from_value(const Value& value, BuiltinType type);

// Short readable form for logs: "Double 21.5", "String[3]", "null".
std::string describe(const Variant& v);

}  // namespace sluice::opcua
