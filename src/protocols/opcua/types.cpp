// OPC UA built-in types: binary encoding (Part 6, 5.2.2), node id text forms (Part 6, 5.3.1.10)
// and the conversions between Variants and Sluice Values.
#include "protocols/opcua/types.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <type_traits>

namespace sluice::opcua {
namespace {

// NodeId encoding byte (Part 6, 5.2.2.9): the low bits pick the form, the high bits are the
// ExpandedNodeId flags.
constexpr uint8_t kNodeIdTwoByte = 0x00;
constexpr uint8_t kNodeIdFourByte = 0x01;
constexpr uint8_t kNodeIdNumeric = 0x02;
constexpr uint8_t kNodeIdString = 0x03;
constexpr uint8_t kNodeIdGuid = 0x04;
constexpr uint8_t kNodeIdByteString = 0x05;
constexpr uint8_t kNodeIdFormMask = 0x0F;
constexpr uint8_t kExpandedNamespaceUri = 0x80;
constexpr uint8_t kExpandedServerIndex = 0x40;

// Variant encoding mask (5.2.2.16).
constexpr uint8_t kVariantTypeMask = 0x3F;
constexpr uint8_t kVariantDimensions = 0x40;
constexpr uint8_t kVariantArray = 0x80;

// DataValue encoding mask (5.2.2.17).
constexpr uint8_t kDataValueValue = 0x01;
constexpr uint8_t kDataValueStatus = 0x02;
constexpr uint8_t kDataValueSourceTimestamp = 0x04;
constexpr uint8_t kDataValueServerTimestamp = 0x08;
constexpr uint8_t kDataValueSourcePicoseconds = 0x10;
constexpr uint8_t kDataValueServerPicoseconds = 0x20;

// DiagnosticInfo encoding mask (5.2.2.12).
constexpr uint8_t kDiagSymbolicId = 0x01;
constexpr uint8_t kDiagNamespaceUri = 0x02;
constexpr uint8_t kDiagLocalizedText = 0x04;
constexpr uint8_t kDiagLocale = 0x08;
constexpr uint8_t kDiagAdditionalInfo = 0x10;
constexpr uint8_t kDiagInnerStatusCode = 0x20;
constexpr uint8_t kDiagInnerDiagnosticInfo = 0x40;

// LocalizedText encoding mask (5.2.2.14).
constexpr uint8_t kTextLocale = 0x01;
constexpr uint8_t kTextText = 0x02;

constexpr std::array<const char*, kMaxBuiltinType + 1> kBuiltinNames = {
    "Null",          "Boolean",       "SByte",           "Byte",           "Int16",
    "UInt16",        "Int32",         "UInt32",          "Int64",          "UInt64",
    "Float",         "Double",        "String",          "DateTime",       "Guid",
    "ByteString",    "XmlElement",    "NodeId",          "ExpandedNodeId", "StatusCode",
    "QualifiedName", "LocalizedText", "ExtensionObject", "DataValue",      "Variant",
    "DiagnosticInfo"};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

template <typename U>
bool parse_unsigned(std::string_view text, U& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The namespace URI inside "nsu=...;": ';' and '%' are percent-escaped.
std::string escape_uri(std::string_view uri) {
  std::string out;
  for (char c : uri) {
    if (c == ';') {
      out += "%3B";
    } else if (c == '%') {
      out += "%25";
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape_uri(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hex_digit(text[i + 1]);
      const int lo = hex_digit(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

Status bad_node_id_text(std::string_view text, std::string_view why) {
  return invalid_argument("node id \"" + std::string(text) + "\": " + std::string(why));
}

// The identifier part of a node id text ("i=85", "s=...", "g=...", "b=...") in namespace ns.
Result<NodeId> parse_identifier(std::string_view whole, std::string_view id, uint16_t ns) {
  if (id.size() < 2 || id[1] != '=') {
    return bad_node_id_text(whole, "expected i=, s=, g= or b= before the identifier");
  }
  const std::string_view value = id.substr(2);
  switch (id[0]) {
    case 'i': {
      uint32_t n = 0;
      if (!parse_unsigned(value, n)) {
        return bad_node_id_text(whole, "i= needs a number from 0 to 4294967295");
      }
      return NodeId::make_numeric(ns, n);
    }
    case 's': return NodeId::make_string(ns, std::string(value));
    case 'g': {
      Result<Guid> g = parse_guid(value);
      if (!g.ok()) return bad_node_id_text(whole, g.status().message());
      return NodeId::make_guid(ns, *g);
    }
    case 'b': {
      Result<std::string> bytes = base64_decode(value);
      if (!bytes.ok()) return bad_node_id_text(whole, bytes.status().message());
      return NodeId::make_opaque(ns, std::move(*bytes));
    }
    default: return bad_node_id_text(whole, "expected i=, s=, g= or b= before the identifier");
  }
}

std::string identifier_text(const NodeId& id) {
  switch (id.kind) {
    case NodeId::Kind::kNumeric: return "i=" + std::to_string(id.numeric);
    case NodeId::Kind::kString: return "s=" + id.text;
    case NodeId::Kind::kGuid: return "g=" + guid_to_string(id.guid);
    case NodeId::Kind::kOpaque: return "b=" + base64_encode(id.text);
  }
  return "i=0";
}

// ---- element encoders shared by Variant's scalars and arrays ----

void put(Writer& w, int8_t v) { w.i8(v); }
void put(Writer& w, uint8_t v) { w.u8(v); }
void put(Writer& w, int16_t v) { w.i16(v); }
void put(Writer& w, uint16_t v) { w.u16(v); }
void put(Writer& w, int32_t v) { w.i32(v); }
void put(Writer& w, uint32_t v) { w.u32(v); }
void put(Writer& w, int64_t v) { w.i64(v); }
void put(Writer& w, uint64_t v) { w.u64(v); }
void put(Writer& w, float v) { w.f32(v); }
void put(Writer& w, double v) { w.f64(v); }
void put(Writer& w, const std::string& v) { w.string(v); }
void put(Writer& w, const Guid& v) { w.guid(v); }
template <typename T>
void put(Writer& w, const T& v) {
  encode(w, v);
}

void get(Reader& r, bool& v) { v = r.boolean(); }
void get(Reader& r, int8_t& v) { v = r.i8(); }
void get(Reader& r, uint8_t& v) { v = r.u8(); }
void get(Reader& r, int16_t& v) { v = r.i16(); }
void get(Reader& r, uint16_t& v) { v = r.u16(); }
void get(Reader& r, int32_t& v) { v = r.i32(); }
void get(Reader& r, uint32_t& v) { v = r.u32(); }
void get(Reader& r, int64_t& v) { v = r.i64(); }
void get(Reader& r, uint64_t& v) { v = r.u64(); }
void get(Reader& r, float& v) { v = r.f32(); }
void get(Reader& r, double& v) { v = r.f64(); }
void get(Reader& r, std::string& v) { v = r.string("Variant String"); }
void get(Reader& r, Guid& v) { v = r.guid(); }
template <typename T>
void get(Reader& r, T& v) {
  decode(r, v);
}

// The fewest bytes one element of T takes on the wire, so that an array's count can be
// checked against what is left before anything is allocated.
template <typename T>
constexpr size_t min_wire_size() {
  if constexpr (std::is_arithmetic_v<T>) {
    return sizeof(T);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return 4;
  } else if constexpr (std::is_same_v<T, Guid>) {
    return 16;
  } else if constexpr (std::is_same_v<T, NodeId> || std::is_same_v<T, ExpandedNodeId>) {
    return 2;
  } else if constexpr (std::is_same_v<T, QualifiedName>) {
    return 6;
  } else if constexpr (std::is_same_v<T, ExtensionObject>) {
    return 3;
  } else {
    return 1;  // LocalizedText, DataValue, Variant, DiagnosticInfo: a mask byte
  }
}

template <BuiltinType B>
void decode_values(Reader& r, bool is_array, Variant::Values& out) {
  using T = StorageType<B>;
  std::vector<T> values;
  size_t n = 1;
  if (is_array) n = r.array_length("Variant array length", min_wire_size<T>());
  if (!r.ok() || !r.charge(n * sizeof(T), "Variant array")) return;
  values.resize(n);
  for (size_t i = 0; i < n && r.ok(); ++i) {
    T element{};
    get(r, element);
    values[i] = std::move(element);
  }
  out = std::move(values);
}

template <size_t... I>
void decode_values_by_type(Reader& r, uint8_t type, bool is_array, Variant::Values& out,
                           std::index_sequence<I...>) {
  // I runs over 1..25: one decode_values instantiation per built-in type.
  (void)((type == I + 1 ? (decode_values<static_cast<BuiltinType>(I + 1)>(r, is_array, out), true)
                        : false) ||
         ...);
}

void encode_node_id_body(Writer& w, const NodeId& v, uint8_t flags) {
  switch (v.kind) {
    case NodeId::Kind::kNumeric:
      if (v.ns == 0 && v.numeric <= 0xFF) {
        w.u8(kNodeIdTwoByte | flags);
        w.u8(static_cast<uint8_t>(v.numeric));
      } else if (v.ns <= 0xFF && v.numeric <= 0xFFFF) {
        w.u8(kNodeIdFourByte | flags);
        w.u8(static_cast<uint8_t>(v.ns));
        w.u16(static_cast<uint16_t>(v.numeric));
      } else {
        w.u8(kNodeIdNumeric | flags);
        w.u16(v.ns);
        w.u32(v.numeric);
      }
      return;
    case NodeId::Kind::kString:
      w.u8(kNodeIdString | flags);
      w.u16(v.ns);
      w.string(v.text);
      return;
    case NodeId::Kind::kGuid:
      w.u8(kNodeIdGuid | flags);
      w.u16(v.ns);
      w.guid(v.guid);
      return;
    case NodeId::Kind::kOpaque:
      w.u8(kNodeIdByteString | flags);
      w.u16(v.ns);
      w.bytestring(v.text);
      return;
  }
}

// Reads the NodeId after its encoding byte `form` (flags already removed).
void decode_node_id_body(Reader& r, uint8_t form, NodeId& v) {
  switch (form) {
    case kNodeIdTwoByte: v = NodeId::make_numeric(0, r.u8("NodeId")); return;
    case kNodeIdFourByte: {
      const uint8_t ns = r.u8("NodeId namespace");
      v = NodeId::make_numeric(ns, r.u16("NodeId"));
      return;
    }
    case kNodeIdNumeric: {
      const uint16_t ns = r.u16("NodeId namespace");
      v = NodeId::make_numeric(ns, r.u32("NodeId"));
      return;
    }
    case kNodeIdString: {
      const uint16_t ns = r.u16("NodeId namespace");
      v = NodeId::make_string(ns, r.string("NodeId string"));
      return;
    }
    case kNodeIdGuid: {
      const uint16_t ns = r.u16("NodeId namespace");
      v = NodeId::make_guid(ns, r.guid("NodeId guid"));
      return;
    }
    case kNodeIdByteString: {
      const uint16_t ns = r.u16("NodeId namespace");
      v = NodeId::make_opaque(ns, r.bytestring("NodeId bytes"));
      return;
    }
    default:
      r.fail("NodeId", "unknown encoding byte form " + std::to_string(form));
      v = NodeId();
      return;
  }
}

// Variant element counts must match the product of the array dimensions.
bool dimensions_match(const std::vector<int32_t>& dims, size_t count) {
  uint64_t product = 1;
  for (int32_t d : dims) {
    if (d < 0) return false;
    product *= static_cast<uint64_t>(d);
    if (product > static_cast<uint64_t>(kMaxArrayLength)) return product == count;
  }
  return product == count;
}

Status bad_write(const Value& value, BuiltinType type, std::string_view why) {
  std::string shown;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          shown = "\"" + v + "\"";
        } else if constexpr (std::is_same_v<T, bool>) {
          shown = v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.17g", v);
          shown = buf;
        } else {
          shown = std::to_string(v);
        }
      },
      value);
  return invalid_argument("cannot write " + shown + " as OPC UA " + builtin_type_name(type) + ": " +
                          std::string(why));
}

// An integer of type T from an exact value, or an error naming the range.
template <typename T>
Result<Variant> integer_variant(const Value& value, BuiltinType type, long double x) {
  if (std::isnan(x) || std::floor(x) != x) return bad_write(value, type, "not a whole number");
  if (x < static_cast<long double>(std::numeric_limits<T>::min()) ||
      x > static_cast<long double>(std::numeric_limits<T>::max())) {
    return bad_write(value, type,
                     "out of range " + std::to_string(std::numeric_limits<T>::min()) + ".." +
                         std::to_string(std::numeric_limits<T>::max()));
  }
  switch (type) {
    case BuiltinType::kSByte: return Variant::of<BuiltinType::kSByte>(static_cast<int8_t>(x));
    case BuiltinType::kByte: return Variant::of<BuiltinType::kByte>(static_cast<uint8_t>(x));
    case BuiltinType::kInt16: return Variant::of<BuiltinType::kInt16>(static_cast<int16_t>(x));
    case BuiltinType::kUInt16: return Variant::of<BuiltinType::kUInt16>(static_cast<uint16_t>(x));
    case BuiltinType::kInt32: return Variant::of<BuiltinType::kInt32>(static_cast<int32_t>(x));
    case BuiltinType::kUInt32: return Variant::of<BuiltinType::kUInt32>(static_cast<uint32_t>(x));
    case BuiltinType::kInt64: return Variant::of<BuiltinType::kInt64>(static_cast<int64_t>(x));
    case BuiltinType::kUInt64: return Variant::of<BuiltinType::kUInt64>(static_cast<uint64_t>(x));
    case BuiltinType::kStatusCode:
      return Variant::of<BuiltinType::kStatusCode>(static_cast<uint32_t>(x));
    default: return bad_write(value, type, "not an integer type");
  }
}

// The number a string spells exactly ("42", "-1.5"), for writes configured as text.
std::optional<long double> parse_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t i = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ec == std::errc() && p == s.data() + s.size()) return static_cast<long double>(i);
  uint64_t u = 0;
  auto [pu, ecu] = std::from_chars(s.data(), s.data() + s.size(), u);
  if (ecu == std::errc() && pu == s.data() + s.size()) return static_cast<long double>(u);
  double d = 0;
  auto [pd, ecd] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ecd == std::errc() && pd == s.data() + s.size()) return static_cast<long double>(d);
  return std::nullopt;
}

bool is_integer_type(BuiltinType t) {
  switch (t) {
    case BuiltinType::kSByte:
    case BuiltinType::kByte:
    case BuiltinType::kInt16:
    case BuiltinType::kUInt16:
    case BuiltinType::kInt32:
    case BuiltinType::kUInt32:
    case BuiltinType::kInt64:
    case BuiltinType::kUInt64:
    case BuiltinType::kStatusCode: return true;
    default: return false;
  }
}

Result<Variant> number_variant(const Value& value, BuiltinType type, long double x) {
  if (type == BuiltinType::kDouble) {
    return Variant::of<BuiltinType::kDouble>(static_cast<double>(x));
  }
  if (type == BuiltinType::kFloat) {
    if (std::isfinite(x) && std::fabs(x) > std::numeric_limits<float>::max()) {
      return bad_write(value, type, "beyond Float's range");
    }
    return Variant::of<BuiltinType::kFloat>(static_cast<float>(x));
  }
  if (type == BuiltinType::kBoolean) {
    if (x == 0 || x == 1) return Variant::of<BuiltinType::kBoolean>(x == 1);
    return bad_write(value, type, "only 0 and 1 convert to Boolean");
  }
  switch (type) {
    case BuiltinType::kSByte: return integer_variant<int8_t>(value, type, x);
    case BuiltinType::kByte: return integer_variant<uint8_t>(value, type, x);
    case BuiltinType::kInt16: return integer_variant<int16_t>(value, type, x);
    case BuiltinType::kUInt16: return integer_variant<uint16_t>(value, type, x);
    case BuiltinType::kInt32: return integer_variant<int32_t>(value, type, x);
    case BuiltinType::kUInt32:
    case BuiltinType::kStatusCode: return integer_variant<uint32_t>(value, type, x);
    case BuiltinType::kInt64: return integer_variant<int64_t>(value, type, x);
    case BuiltinType::kUInt64: return integer_variant<uint64_t>(value, type, x);
    default: return bad_write(value, type, "a number does not convert to this type");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string builtin_type_name(BuiltinType type) {
  const auto i = static_cast<size_t>(type);
  if (i < kBuiltinNames.size()) return kBuiltinNames[i];
  return "BuiltinType(" + std::to_string(i) + ")";
}

std::optional<BuiltinType> builtin_type_from_name(std::string_view name) {
  for (size_t i = 0; i < kBuiltinNames.size(); ++i) {
    if (iequals(name, kBuiltinNames[i])) return static_cast<BuiltinType>(i);
  }
  return std::nullopt;
}

std::string guid_to_string(const Guid& g) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", g.data1,
                g.data2, g.data3, g.data4[0], g.data4[1], g.data4[2], g.data4[3], g.data4[4],
                g.data4[5], g.data4[6], g.data4[7]);
  return buf;
}

Result<Guid> parse_guid(std::string_view text) {
  // 8-4-4-4-12 hex digits; the third group's bytes and the last group are data4.
  constexpr size_t kLength = 36;
  if (text.size() != kLength || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return invalid_argument("guid \"" + std::string(text) +
                            "\" is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
  }
  std::array<uint8_t, 16> bytes{};
  size_t b = 0;
  for (size_t i = 0; i < kLength; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    const int hi = hex_digit(text[i]);
    const int lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return invalid_argument("guid \"" + std::string(text) + "\" has a non-hex digit");
    }
    bytes[b++] = static_cast<uint8_t>(hi * 16 + lo);
    ++i;
  }
  Guid g;
  g.data1 = (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
            bytes[3];
  g.data2 = static_cast<uint16_t>((bytes[4] << 8) | bytes[5]);
  g.data3 = static_cast<uint16_t>((bytes[6] << 8) | bytes[7]);
  for (size_t i = 0; i < 8; ++i) g.data4[i] = bytes[8 + i];
  return g;
}

namespace {
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    if (rest == 2) n |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return invalid_argument("base64 text has a stray last character");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64_value(c);
    if (v < 0)
      return invalid_argument(std::string("base64 text has an invalid character '") + c + "'");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// ---- NodeId ----

NodeId NodeId::make_numeric(uint16_t ns, uint32_t id) {
  NodeId n;
  n.ns = ns;
  n.kind = Kind::kNumeric;
  n.numeric = id;
  return n;
}
NodeId NodeId::make_string(uint16_t ns, std::string s) {
  NodeId n;
  n.ns = ns;
  n.kind = Kind::kString;
  n.text = std::move(s);
  return n;
}
NodeId NodeId::make_guid(uint16_t ns, const Guid& g) {
  NodeId n;
  n.ns = ns;
  n.kind = Kind::kGuid;
  n.guid = g;
  return n;
}
NodeId NodeId::make_opaque(uint16_t ns, std::string bytes) {
  NodeId n;
  n.ns = ns;
  n.kind = Kind::kOpaque;
  n.text = std::move(bytes);
  return n;
}

bool NodeId::is_null() const {
  if (ns != 0) return false;
  switch (kind) {
    case Kind::kNumeric: return numeric == 0;
    case Kind::kString:
    case Kind::kOpaque: return text.empty();
    case Kind::kGuid: return guid == Guid{};
  }
  return false;
}

std::string NodeId::to_string() const {
  std::string out;
  if (ns != 0) out = "ns=" + std::to_string(ns) + ";";
  return out + identifier_text(*this);
}

Result<NodeId> NodeId::parse(std::string_view text) {
  if (text.starts_with("nsu=") || text.starts_with("svr=")) {
    return bad_node_id_text(text,
                            "names a namespace URI or server; resolve it as an ExpandedNodeId");
  }
  uint16_t ns = 0;
  std::string_view rest = text;
  if (rest.starts_with("ns=")) {
    const size_t semi = rest.find(';');
    if (semi == std::string_view::npos) return bad_node_id_text(text, "missing ';' after ns=");
    if (!parse_unsigned(rest.substr(3, semi - 3), ns)) {
      return bad_node_id_text(text, "ns= needs a namespace index from 0 to 65535");
    }
    rest = rest.substr(semi + 1);
  }
  return parse_identifier(text, rest, ns);
}

// ---- ExpandedNodeId ----

std::string ExpandedNodeId::to_string() const {
  std::string out;
  if (server_index != 0) out += "svr=" + std::to_string(server_index) + ";";
  if (!namespace_uri.empty()) {
    out += "nsu=" + escape_uri(namespace_uri) + ";";
  } else if (node_id.ns != 0) {
    out += "ns=" + std::to_string(node_id.ns) + ";";
  }
  return out + identifier_text(node_id);
}

Result<ExpandedNodeId> ExpandedNodeId::parse(std::string_view text) {
  ExpandedNodeId out;
  std::string_view rest = text;
  if (rest.starts_with("svr=")) {
    const size_t semi = rest.find(';');
    if (semi == std::string_view::npos) return bad_node_id_text(text, "missing ';' after svr=");
    if (!parse_unsigned(rest.substr(4, semi - 4), out.server_index)) {
      return bad_node_id_text(text, "svr= needs a server index");
    }
    rest = rest.substr(semi + 1);
  }
  uint16_t ns = 0;
  if (rest.starts_with("nsu=")) {
    const size_t semi = rest.find(';');
    if (semi == std::string_view::npos) return bad_node_id_text(text, "missing ';' after nsu=");
    out.namespace_uri = unescape_uri(rest.substr(4, semi - 4));
    if (out.namespace_uri.empty()) return bad_node_id_text(text, "nsu= needs a namespace URI");
    rest = rest.substr(semi + 1);
  } else if (rest.starts_with("ns=")) {
    const size_t semi = rest.find(';');
    if (semi == std::string_view::npos) return bad_node_id_text(text, "missing ';' after ns=");
    if (!parse_unsigned(rest.substr(3, semi - 3), ns)) {
      return bad_node_id_text(text, "ns= needs a namespace index from 0 to 65535");
    }
    rest = rest.substr(semi + 1);
  }
  Result<NodeId> id = parse_identifier(text, rest, ns);
  if (!id.ok()) return id.status();
  out.node_id = std::move(*id);
  return out;
}

Result<NodeId> resolve(const ExpandedNodeId& id, const std::vector<std::string>& namespace_array) {
  if (id.server_index != 0) {
    return invalid_argument("node " + id.to_string() + " is on another server (index " +
                            std::to_string(id.server_index) + ")");
  }
  if (id.namespace_uri.empty()) return id.node_id;
  for (size_t i = 0; i < namespace_array.size() && i <= 0xFFFF; ++i) {
    if (namespace_array[i] == id.namespace_uri) {
      NodeId n = id.node_id;
      n.ns = static_cast<uint16_t>(i);
      return n;
    }
  }
  return not_found("namespace \"" + id.namespace_uri + "\" of node " + id.to_string() +
                   " is not in the server's NamespaceArray (" +
                   std::to_string(namespace_array.size()) + " entries)");
}

Result<NodeId> parse_node_id(std::string_view text,
                             const std::vector<std::string>& namespace_array) {
  Result<ExpandedNodeId> e = ExpandedNodeId::parse(text);
  if (!e.ok()) return e.status();
  return resolve(*e, namespace_array);
}

std::string QualifiedName::to_string() const {
  return ns == 0 ? name : std::to_string(ns) + ":" + name;
}

// ---- DiagnosticInfo, Variant ----

bool DiagnosticInfo::empty() const {
  return !symbolic_id && !namespace_uri && !locale && !localized_text && !additional_info &&
         !inner_status_code && inner.empty();
}

bool DiagnosticInfo::operator==(const DiagnosticInfo& o) const {
  return symbolic_id == o.symbolic_id && namespace_uri == o.namespace_uri && locale == o.locale &&
         localized_text == o.localized_text && additional_info == o.additional_info &&
         inner_status_code == o.inner_status_code && inner == o.inner;
}

size_t Variant::size() const {
  return std::visit(
      [](const auto& v) -> size_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::monostate>) {
          return 0;
        } else {
          return v.size();
        }
      },
      values_);
}

bool Variant::operator==(const Variant& o) const {
  return type_ == o.type_ && is_array_ == o.is_array_ && dimensions_ == o.dimensions_ &&
         values_ == o.values_;
}

// ---- encoders ----

void encode(Writer& w, const NodeId& v) { encode_node_id_body(w, v, 0); }

void encode(Writer& w, const ExpandedNodeId& v) {
  uint8_t flags = 0;
  if (!v.namespace_uri.empty()) flags |= kExpandedNamespaceUri;
  if (v.server_index != 0) flags |= kExpandedServerIndex;
  NodeId id = v.node_id;
  if (!v.namespace_uri.empty()) id.ns = 0;
  encode_node_id_body(w, id, flags);
  if (!v.namespace_uri.empty()) w.string(v.namespace_uri);
  if (v.server_index != 0) w.u32(v.server_index);
}

void encode(Writer& w, const QualifiedName& v) {
  w.u16(v.ns);
  if (v.name.empty()) {
    w.null_string();
  } else {
    w.string(v.name);
  }
}

void encode(Writer& w, const LocalizedText& v) {
  uint8_t mask = 0;
  if (!v.locale.empty()) mask |= kTextLocale;
  if (!v.text.empty()) mask |= kTextText;
  w.u8(mask);
  if (!v.locale.empty()) w.string(v.locale);
  if (!v.text.empty()) w.string(v.text);
}

void encode(Writer& w, const ExtensionObject& v) {
  encode(w, v.type_id);
  w.u8(static_cast<uint8_t>(v.encoding));
  if (v.encoding != ExtensionObject::Encoding::kNone) w.bytestring(v.body);
}

void encode(Writer& w, const DiagnosticInfo& v) {
  uint8_t mask = 0;
  if (v.symbolic_id) mask |= kDiagSymbolicId;
  if (v.namespace_uri) mask |= kDiagNamespaceUri;
  if (v.localized_text) mask |= kDiagLocalizedText;
  if (v.locale) mask |= kDiagLocale;
  if (v.additional_info) mask |= kDiagAdditionalInfo;
  if (v.inner_status_code) mask |= kDiagInnerStatusCode;
  if (!v.inner.empty()) mask |= kDiagInnerDiagnosticInfo;
  w.u8(mask);
  // Wire order: SymbolicId, NamespaceUri, Locale, LocalizedText (not the mask's order).
  if (v.symbolic_id) w.i32(*v.symbolic_id);
  if (v.namespace_uri) w.i32(*v.namespace_uri);
  if (v.locale) w.i32(*v.locale);
  if (v.localized_text) w.i32(*v.localized_text);
  if (v.additional_info) w.string(*v.additional_info);
  if (v.inner_status_code) w.u32(*v.inner_status_code);
  if (!v.inner.empty()) encode(w, v.inner.front());
}

void encode(Writer& w, const Variant& v) {
  if (v.is_null()) {
    w.u8(0);
    return;
  }
  uint8_t mask = static_cast<uint8_t>(v.type());
  if (v.is_array()) mask |= kVariantArray;
  if (v.is_array() && !v.dimensions().empty()) mask |= kVariantDimensions;
  w.u8(mask);
  std::visit(
      [&](const auto& values) {
        using V = std::decay_t<decltype(values)>;
        if constexpr (!std::is_same_v<V, std::monostate>) {
          if (v.is_array()) w.i32(static_cast<int32_t>(values.size()));
          for (const auto& e : values) {
            if constexpr (std::is_same_v<V, std::vector<bool>>) {
              w.boolean(e);
            } else {
              put(w, e);
            }
          }
        }
      },
      v.values());
  if (mask & kVariantDimensions) {
    w.i32(static_cast<int32_t>(v.dimensions().size()));
    for (int32_t d : v.dimensions()) w.i32(d);
  }
}

void encode(Writer& w, const DataValue& v) {
  uint8_t mask = 0;
  if (!v.value.is_null()) mask |= kDataValueValue;
  if (v.status != 0) mask |= kDataValueStatus;
  if (v.source_timestamp != 0) mask |= kDataValueSourceTimestamp;
  if (v.server_timestamp != 0) mask |= kDataValueServerTimestamp;
  if (v.source_picoseconds != 0) mask |= kDataValueSourcePicoseconds;
  if (v.server_picoseconds != 0) mask |= kDataValueServerPicoseconds;
  w.u8(mask);
  if (mask & kDataValueValue) encode(w, v.value);
  if (mask & kDataValueStatus) w.u32(v.status);
  if (mask & kDataValueSourceTimestamp) w.datetime(v.source_timestamp);
  if (mask & kDataValueSourcePicoseconds) w.u16(v.source_picoseconds);
  if (mask & kDataValueServerTimestamp) w.datetime(v.server_timestamp);
  if (mask & kDataValueServerPicoseconds) w.u16(v.server_picoseconds);
}

// ---- decoders ----

void decode(Reader& r, NodeId& v) {
  v = NodeId();
  const uint8_t enc = r.u8("NodeId encoding");
  if (!r.ok()) return;
  if ((enc & ~kNodeIdFormMask) != 0) {
    r.fail("NodeId", "encoding byte has ExpandedNodeId flags where a NodeId belongs");
    return;
  }
  decode_node_id_body(r, enc, v);
}

void decode(Reader& r, ExpandedNodeId& v) {
  v = ExpandedNodeId();
  const uint8_t enc = r.u8("ExpandedNodeId encoding");
  if (!r.ok()) return;
  if ((enc & 0x30) != 0) {
    r.fail("ExpandedNodeId", "encoding byte has reserved bits set");
    return;
  }
  decode_node_id_body(r, enc & kNodeIdFormMask, v.node_id);
  if (enc & kExpandedNamespaceUri) {
    v.namespace_uri = r.string("ExpandedNodeId namespace URI");
    // The URI replaces the index (which should be 0).
    if (!v.namespace_uri.empty()) v.node_id.ns = 0;
  }
  if (enc & kExpandedServerIndex) v.server_index = r.u32("ExpandedNodeId server index");
  if (!r.ok()) v = ExpandedNodeId();
}

void decode(Reader& r, QualifiedName& v) {
  v.ns = r.u16("QualifiedName namespace");
  v.name = r.string("QualifiedName name");
}

void decode(Reader& r, LocalizedText& v) {
  v = LocalizedText();
  const uint8_t mask = r.u8("LocalizedText mask");
  if (mask & kTextLocale) v.locale = r.string("LocalizedText locale");
  if (mask & kTextText) v.text = r.string("LocalizedText text");
}

void decode(Reader& r, ExtensionObject& v) {
  v = ExtensionObject();
  decode(r, v.type_id);
  const uint8_t enc = r.u8("ExtensionObject encoding");
  if (!r.ok()) return;
  if (enc > static_cast<uint8_t>(ExtensionObject::Encoding::kXml)) {
    r.fail("ExtensionObject", "unknown body encoding " + std::to_string(enc));
    return;
  }
  v.encoding = static_cast<ExtensionObject::Encoding>(enc);
  if (v.encoding != ExtensionObject::Encoding::kNone) v.body = r.bytestring("ExtensionObject body");
}

void decode(Reader& r, DiagnosticInfo& v) {
  v = DiagnosticInfo();
  const uint8_t mask = r.u8("DiagnosticInfo mask");
  if (!r.ok()) return;
  if (mask & kDiagSymbolicId) v.symbolic_id = r.i32("DiagnosticInfo symbolic id");
  if (mask & kDiagNamespaceUri) v.namespace_uri = r.i32("DiagnosticInfo namespace");
  if (mask & kDiagLocale) v.locale = r.i32("DiagnosticInfo locale");
  if (mask & kDiagLocalizedText) v.localized_text = r.i32("DiagnosticInfo localized text");
  if (mask & kDiagAdditionalInfo) v.additional_info = r.string("DiagnosticInfo additional info");
  if (mask & kDiagInnerStatusCode) v.inner_status_code = r.u32("DiagnosticInfo inner status");
  if (mask & kDiagInnerDiagnosticInfo) {
    if (r.enter("inner DiagnosticInfo")) {
      DiagnosticInfo inner;
      decode(r, inner);
      v.inner.push_back(std::move(inner));
    }
    r.leave();
  }
  if (!r.ok()) v = DiagnosticInfo();
}

void decode(Reader& r, Variant& v) {
  v = Variant();
  const uint8_t mask = r.u8("Variant encoding mask");
  if (!r.ok()) return;
  const uint8_t type = mask & kVariantTypeMask;
  const bool is_array = (mask & kVariantArray) != 0;
  const bool has_dims = (mask & kVariantDimensions) != 0;
  if (type > kMaxBuiltinType) {
    r.fail("Variant", "unknown built-in type " + std::to_string(type));
    return;
  }
  if (type == 0) {
    if (mask != 0) r.fail("Variant", "a null Variant has array flags");
    return;
  }
  if (has_dims && !is_array) {
    r.fail("Variant", "array dimensions without an array");
    return;
  }
  if (!r.enter("Variant")) {
    r.leave();
    return;
  }
  Variant out;
  out.type_ = static_cast<BuiltinType>(type);
  out.is_array_ = is_array;
  decode_values_by_type(r, type, is_array, out.values_,
                        std::make_index_sequence<kMaxBuiltinType>{});
  r.leave();
  if (has_dims && r.ok()) {
    const size_t n = r.array_length("Variant array dimensions", 4);
    if (r.charge(n * sizeof(int32_t), "Variant array dimensions")) {
      out.dimensions_.resize(n);
      for (size_t i = 0; i < n && r.ok(); ++i) out.dimensions_[i] = r.i32("Variant dimension");
    }
    if (r.ok() && !dimensions_match(out.dimensions_, out.size())) {
      r.fail("Variant", "array dimensions do not multiply to the array's " +
                            std::to_string(out.size()) + " elements");
    }
  }
  if (r.ok()) v = std::move(out);
}

void decode(Reader& r, DataValue& v) {
  v = DataValue();
  const uint8_t mask = r.u8("DataValue mask");
  if (!r.ok()) return;
  if (mask & kDataValueValue) {
    if (r.enter("DataValue")) decode(r, v.value);
    r.leave();
  }
  if (mask & kDataValueStatus) v.status = r.u32("DataValue status");
  if (mask & kDataValueSourceTimestamp) v.source_timestamp = r.datetime("DataValue source time");
  if (mask & kDataValueSourcePicoseconds) v.source_picoseconds = r.u16("DataValue source ps");
  if (mask & kDataValueServerTimestamp) v.server_timestamp = r.datetime("DataValue server time");
  if (mask & kDataValueServerPicoseconds) v.server_picoseconds = r.u16("DataValue server ps");
  if (!r.ok()) v = DataValue();
}

// ---- Variant <-> Value ----

Result<Value> to_value(const Variant& v) {
  if (v.is_null()) return invalid_argument("the value is null");
  if (v.is_array()) {
    return invalid_argument("the value is an array of " + builtin_type_name(v.type()) + " (" +
                            std::to_string(v.size()) + " elements), not a scalar");
  }
  switch (v.type()) {
    case BuiltinType::kBoolean: return Value(*v.boolean());
    case BuiltinType::kSByte: return Value(int64_t{*v.scalar<int8_t>()});
    case BuiltinType::kByte: return Value(int64_t{*v.scalar<uint8_t>()});
    case BuiltinType::kInt16: return Value(int64_t{*v.scalar<int16_t>()});
    case BuiltinType::kUInt16: return Value(int64_t{*v.scalar<uint16_t>()});
    case BuiltinType::kInt32: return Value(int64_t{*v.scalar<int32_t>()});
    case BuiltinType::kUInt32:
    case BuiltinType::kStatusCode: return Value(int64_t{*v.scalar<uint32_t>()});
    case BuiltinType::kInt64: return Value(*v.scalar<int64_t>());
    case BuiltinType::kUInt64: {
      const uint64_t u = *v.scalar<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Value(static_cast<int64_t>(u));
      }
      return Value(static_cast<double>(u));
    }
    case BuiltinType::kFloat: return Value(static_cast<double>(*v.scalar<float>()));
    case BuiltinType::kDouble: return Value(*v.scalar<double>());
    case BuiltinType::kString:
    case BuiltinType::kXmlElement: return Value(*v.scalar<std::string>());
    case BuiltinType::kByteString: return Value(base64_encode(*v.scalar<std::string>()));
    case BuiltinType::kDateTime: return Value(datetime_to_unix_ns(*v.scalar<int64_t>()));
    case BuiltinType::kGuid: return Value(guid_to_string(*v.scalar<Guid>()));
    case BuiltinType::kNodeId: return Value(v.scalar<NodeId>()->to_string());
    case BuiltinType::kExpandedNodeId: return Value(v.scalar<ExpandedNodeId>()->to_string());
    case BuiltinType::kQualifiedName: return Value(v.scalar<QualifiedName>()->to_string());
    case BuiltinType::kLocalizedText: return Value(v.scalar<LocalizedText>()->text);
    default:
      return invalid_argument("a " + builtin_type_name(v.type()) +
                              " does not convert to a Sluice value");
  }
}

Result<Variant> from_value(const Value& value, BuiltinType type) {
  if (std::holds_alternative<std::string>(value)) {
    const std::string& s = std::get<std::string>(value);
    switch (type) {
      case BuiltinType::kString: return Variant::of<BuiltinType::kString>(s);
      case BuiltinType::kXmlElement: return Variant::of<BuiltinType::kXmlElement>(s);
      case BuiltinType::kByteString: return Variant::of<BuiltinType::kByteString>(s);
      case BuiltinType::kLocalizedText:
        return Variant::of<BuiltinType::kLocalizedText>(LocalizedText{"", s});
      case BuiltinType::kNodeId: {
        Result<NodeId> id = NodeId::parse(s);
        if (!id.ok()) return bad_write(value, type, id.status().message());
        return Variant::of<BuiltinType::kNodeId>(std::move(*id));
      }
      case BuiltinType::kGuid: {
        Result<Guid> g = parse_guid(s);
        if (!g.ok()) return bad_write(value, type, g.status().message());
        return Variant::of<BuiltinType::kGuid>(*g);
      }
      case BuiltinType::kBoolean:
        if (s == "true") return Variant::of<BuiltinType::kBoolean>(true);
        if (s == "false") return Variant::of<BuiltinType::kBoolean>(false);
        return bad_write(value, type, "only \"true\" and \"false\" convert to Boolean");
      default: break;
    }
    if (type == BuiltinType::kFloat || type == BuiltinType::kDouble || is_integer_type(type)) {
      std::optional<long double> x = parse_number(s);
      if (!x) return bad_write(value, type, "the text is not a number");
      return number_variant(value, type, *x);  // a long double holds every int64 and uint64
    }
    return bad_write(value, type, "a string does not convert to this type");
  }
  if (std::holds_alternative<bool>(value)) {
    const bool b = std::get<bool>(value);
    if (type == BuiltinType::kBoolean) return Variant::of<BuiltinType::kBoolean>(b);
    if (type == BuiltinType::kString)
      return Variant::of<BuiltinType::kString>(b ? "true" : "false");
    if (is_integer_type(type) || type == BuiltinType::kFloat || type == BuiltinType::kDouble) {
      return number_variant(value, type, b ? 1 : 0);
    }
    return bad_write(value, type, "a bool does not convert to this type");
  }
  if (std::holds_alternative<int64_t>(value)) {
    const int64_t i = std::get<int64_t>(value);
    if (type == BuiltinType::kDateTime) {
      return Variant::of<BuiltinType::kDateTime>(unix_ns_to_datetime(i));
    }
    if (type == BuiltinType::kString) return Variant::of<BuiltinType::kString>(std::to_string(i));
    if (type == BuiltinType::kInt64) return Variant::of<BuiltinType::kInt64>(i);
    if (type == BuiltinType::kDouble)
      return Variant::of<BuiltinType::kDouble>(static_cast<double>(i));
    if (is_integer_type(type) || type == BuiltinType::kFloat || type == BuiltinType::kBoolean) {
      return number_variant(value, type, static_cast<long double>(i));
    }
    return bad_write(value, type, "an integer does not convert to this type");
  }
  const double d = std::get<double>(value);
  if (type == BuiltinType::kDouble) return Variant::of<BuiltinType::kDouble>(d);
  if (type == BuiltinType::kString) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    return Variant::of<BuiltinType::kString>(buf);
  }
  if (type == BuiltinType::kFloat) {
    if (std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max()) {
      return bad_write(value, type, "beyond Float's range");
    }
    return Variant::of<BuiltinType::kFloat>(static_cast<float>(d));
  }
  if (is_integer_type(type) || type == BuiltinType::kBoolean) {
    if (!std::isfinite(d)) return bad_write(value, type, "not a finite number");
    return number_variant(value, type, static_cast<long double>(d));
  }
  return bad_write(value, type, "a double does not convert to this type");
}

std::string describe(const Variant& v) {
  if (v.is_null()) return "null";
  if (v.is_array()) {
    return builtin_type_name(v.type()) + "[" + std::to_string(v.size()) + "]";
  }
  Result<Value> value = to_value(v);
  if (!value.ok()) return builtin_type_name(v.type());
  std::string shown;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          shown = "\"" + x + "\"";
        } else if constexpr (std::is_same_v<T, bool>) {
          shown = x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.17g", x);
          shown = buf;
        } else {
          shown = std::to_string(x);
        }
      },
      *value);
  return builtin_type_name(v.type()) + " " + shown;
}

}  // namespace sluice::opcua
