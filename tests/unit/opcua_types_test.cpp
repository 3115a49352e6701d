// OPC UA built-in types (protocols/opcua/types.h, status_codes.h): the byte examples of Part 6,
// round trips of every built-in type, node id text forms, the Variant <-> Value conversions,
// and malformed input (truncated, forged lengths, deep nesting) refused with an error.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "protocols/opcua/node_ids.h"
#include "protocols/opcua/status_codes.h"
#include "protocols/opcua/types.h"

namespace sluice::opcua {
namespace {

std::string hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    if (!out.empty()) out += ' ';
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::string unhex(std::string_view text) {
  std::string out;
  int hi = -1;
  for (char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out += static_cast<char>(hi * 16 + v);
      hi = -1;
    }
  }
  return out;
}

template <typename T>
T round_trip(const T& v) {
  const Bytes bytes = encode_to_bytes(v);
  Result<T> back = decode_all<T>(bytes);
  EXPECT_TRUE(back.ok()) << back.status().to_string() << " for " << hex(bytes);
  return back.ok() ? *back : T{};
}

// ---- Part 6 byte examples ----

TEST(OpcuaNodeIdTest, EncodesPart6Examples) {
  // 5.2.2.9: i=72 as two bytes, ns=5;i=1025 as four bytes, ns=1;s=Hot水 as a String NodeId.
  EXPECT_EQ(hex(encode_to_bytes(NodeId::make_numeric(0, 72))), "00 48");
  EXPECT_EQ(hex(encode_to_bytes(NodeId::make_numeric(5, 1025))), "01 05 01 04");
  EXPECT_EQ(hex(encode_to_bytes(NodeId::make_string(1, "Hot\xE6\xB0\xB4"))),
            "03 01 00 06 00 00 00 48 6f 74 e6 b0 b4");
  // Beyond four bytes: the full numeric form.
  EXPECT_EQ(hex(encode_to_bytes(NodeId::make_numeric(2, 70000))), "02 02 00 70 11 01 00");
  EXPECT_EQ(hex(encode_to_bytes(NodeId::make_numeric(256, 1))), "02 00 01 01 00 00 00");
}

TEST(OpcuaNodeIdTest, GuidEncodesWithLittleEndianFirstThreeFields) {
  // 5.2.2.7: 72962B91-FA75-4AE6-8D28-B404DC7DAF63.
  Result<Guid> g = parse_guid("72962B91-FA75-4AE6-8D28-B404DC7DAF63");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(hex(encode_to_bytes(NodeId::make_guid(0, *g))),
            "04 00 00 91 2b 96 72 75 fa e6 4a 8d 28 b4 04 dc 7d af 63");
  EXPECT_EQ(guid_to_string(*g), "72962b91-fa75-4ae6-8d28-b404dc7daf63");
}

TEST(OpcuaNodeIdTest, EveryFormRoundTrips) {
  Result<Guid> g = parse_guid("09087e75-8e5e-499b-954f-f2a9603db28a");
  ASSERT_TRUE(g.ok());
  for (const NodeId& id :
       {NodeId::make_numeric(0, 0), NodeId::make_numeric(0, 255), NodeId::make_numeric(0, 256),
        NodeId::make_numeric(255, 65535), NodeId::make_numeric(65535, 0xFFFFFFFF),
        NodeId::make_string(2, "Motor.Speed"), NodeId::make_string(3, ""), NodeId::make_guid(1, *g),
        NodeId::make_opaque(4, std::string("\0\1\xff", 3))}) {
    EXPECT_EQ(round_trip(id), id) << id.to_string();
  }
}

TEST(OpcuaNodeIdTest, TextFormsParseAndPrint) {
  struct Case {
    const char* text;
    NodeId id;
  };
  Result<Guid> g = parse_guid("09087e75-8e5e-499b-954f-f2a9603db28a");
  ASSERT_TRUE(g.ok());
  const Case cases[] = {
      {"i=85", NodeId::make_numeric(0, 85)},
      {"ns=2;s=Motor.Speed", NodeId::make_string(2, "Motor.Speed")},
      {"ns=10;s=Hello:World;x=1", NodeId::make_string(10, "Hello:World;x=1")},
      {"ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a", NodeId::make_guid(1, *g)},
      {"ns=1;b=c2x1aWNl", NodeId::make_opaque(1, "sluice")},
  };
  for (const Case& c : cases) {
    Result<NodeId> parsed = NodeId::parse(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().to_string();
    EXPECT_EQ(*parsed, c.id) << c.text;
    EXPECT_EQ(parsed->to_string(), c.text);
  }
  // Upper-case GUIDs parse; "ns=0;" is left out when printing.
  EXPECT_EQ(NodeId::parse("ns=1;g=09087E75-8E5E-499B-954F-F2A9603DB28A")->guid, *g);
  EXPECT_EQ(NodeId::parse("ns=0;i=85")->to_string(), "i=85");
}

TEST(OpcuaNodeIdTest, MalformedTextIsRefusedWithTheReason) {
  for (const char* bad : {"", "85", "i=", "i=abc", "i=-1", "i=4294967296", "ns=70000;i=1", "ns=1",
                          "ns=x;i=1", "q=1", "ns=1;g=1234", "ns=1;b=!!!!", "nsu=urn:a;i=1"}) {
    Result<NodeId> r = NodeId::parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
      EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
    }
  }
}

TEST(OpcuaExpandedNodeIdTest, NamespaceUriFormResolvesAgainstNamespaceArray) {
  Result<ExpandedNodeId> e = ExpandedNodeId::parse("nsu=urn:sluice:test-server;s=Motor.Speed");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->namespace_uri, "urn:sluice:test-server");
  EXPECT_EQ(e->node_id, NodeId::make_string(0, "Motor.Speed"));
  const std::vector<std::string> ns = {"http://opcfoundation.org/UA/", "urn:other",
                                       "urn:sluice:test-server"};
  Result<NodeId> resolved = resolve(*e, ns);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, NodeId::make_string(2, "Motor.Speed"));
  EXPECT_EQ(*parse_node_id("nsu=urn:other;i=5", ns), NodeId::make_numeric(1, 5));
  EXPECT_EQ(*parse_node_id("ns=3;i=5", ns), NodeId::make_numeric(3, 5));

  Result<NodeId> missing = parse_node_id("nsu=urn:absent;i=5", ns);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("urn:absent"), std::string::npos);
  EXPECT_EQ(parse_node_id("svr=1;i=5", ns).status().code(), Code::kInvalidArgument);
}

TEST(OpcuaExpandedNodeIdTest, TextEscapesSemicolonsInTheUri) {
  ExpandedNodeId e;
  e.node_id = NodeId::make_numeric(0, 7);
  e.namespace_uri = "urn:a;b%c";
  e.server_index = 2;
  EXPECT_EQ(e.to_string(), "svr=2;nsu=urn:a%3Bb%25c;i=7");
  Result<ExpandedNodeId> back = ExpandedNodeId::parse(e.to_string());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, e);
}

TEST(OpcuaExpandedNodeIdTest, FlagsCarryUriAndServerIndex) {
  ExpandedNodeId e;
  e.node_id = NodeId::make_numeric(0, 4242);
  e.namespace_uri = "urn:x";
  e.server_index = 3;
  // Four-byte form with both flags, then the URI and the server index.
  EXPECT_EQ(hex(encode_to_bytes(e)), "c1 00 92 10 05 00 00 00 75 72 6e 3a 78 03 00 00 00");
  EXPECT_EQ(round_trip(e), e);
  ExpandedNodeId local;
  local.node_id = NodeId::make_string(2, "x");
  EXPECT_EQ(round_trip(local), local);
}

TEST(OpcuaNodeIdTest, ExpandedFlagsInAPlainNodeIdAreCorruption) {
  Result<NodeId> r = decode_all<NodeId>(unhex("81 00 92 10"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_FALSE(decode_all<NodeId>(unhex("06 00 00")).ok());  // unknown form 6
}

// ---- strings, text, names ----

TEST(OpcuaStringTest, Part6StringExampleAndNullLength) {
  // 5.2.2.4: "水Boy" is 6 bytes of UTF-8 after an Int32 length.
  Bytes out;
  Writer w(&out);
  w.string(
      "\xE6\xB0\xB4"
      "Boy");
  EXPECT_EQ(hex(out), "06 00 00 00 e6 b0 b4 42 6f 79");
  Reader r(unhex("ff ff ff ff"));
  bool is_null = false;
  EXPECT_EQ(r.string("s", &is_null), "");
  EXPECT_TRUE(is_null);
  EXPECT_TRUE(r.ok());
}

TEST(OpcuaLocalizedTextTest, MaskLeavesOutEmptyParts) {
  EXPECT_EQ(hex(encode_to_bytes(LocalizedText{})), "00");
  EXPECT_EQ(hex(encode_to_bytes(LocalizedText{"", "A"})), "02 01 00 00 00 41");
  EXPECT_EQ(hex(encode_to_bytes(LocalizedText{"en", "A"})), "03 02 00 00 00 65 6e 01 00 00 00 41");
  const LocalizedText both{"de-DE", "Drehzahl"};
  EXPECT_EQ(round_trip(both), both);
  const QualifiedName q{3, "Motor"};
  EXPECT_EQ(round_trip(q), q);
  EXPECT_EQ(q.to_string(), "3:Motor");
}

// ---- Variant ----

TEST(OpcuaVariantTest, ScalarsOfEveryBuiltinTypeRoundTrip) {
  Result<Guid> g = parse_guid("09087e75-8e5e-499b-954f-f2a9603db28a");
  ASSERT_TRUE(g.ok());
  DataValue inner_dv;
  inner_dv.value = Variant::of<BuiltinType::kInt32>(7);
  inner_dv.status = status::kUncertainLastUsableValue;
  DiagnosticInfo diag;
  diag.symbolic_id = 3;
  diag.additional_info = "why";
  ExtensionObject eo;
  eo.type_id = NodeId::make_numeric(0, ids::kRange_Encoding_DefaultBinary);
  eo.encoding = ExtensionObject::Encoding::kBinary;
  eo.body = std::string(16, '\x01');
  ExpandedNodeId en;
  en.node_id = NodeId::make_numeric(0, 1);
  en.namespace_uri = "urn:u";
  const std::vector<Variant> values = {
      Variant::of<BuiltinType::kBoolean>(true),
      Variant::of<BuiltinType::kSByte>(-100),
      Variant::of<BuiltinType::kByte>(200),
      Variant::of<BuiltinType::kInt16>(-30000),
      Variant::of<BuiltinType::kUInt16>(60000),
      Variant::of<BuiltinType::kInt32>(std::numeric_limits<int32_t>::min()),
      Variant::of<BuiltinType::kUInt32>(4000000000u),
      Variant::of<BuiltinType::kInt64>(std::numeric_limits<int64_t>::min()),
      Variant::of<BuiltinType::kUInt64>(std::numeric_limits<uint64_t>::max()),
      Variant::of<BuiltinType::kFloat>(1.5f),
      Variant::of<BuiltinType::kDouble>(-2.25),
      Variant::of<BuiltinType::kString>("Motor"),
      Variant::of<BuiltinType::kDateTime>(unix_ns_to_datetime(1700000000000000000)),
      Variant::of<BuiltinType::kGuid>(*g),
      Variant::of<BuiltinType::kByteString>(std::string("\0\1", 2)),
      Variant::of<BuiltinType::kXmlElement>("<a/>"),
      Variant::of<BuiltinType::kNodeId>(NodeId::make_string(2, "x")),
      Variant::of<BuiltinType::kExpandedNodeId>(en),
      Variant::of<BuiltinType::kStatusCode>(status::kBadTimeout),
      Variant::of<BuiltinType::kQualifiedName>(QualifiedName{1, "Plant"}),
      Variant::of<BuiltinType::kLocalizedText>(LocalizedText{"en", "Speed"}),
      Variant::of<BuiltinType::kExtensionObject>(eo),
      Variant::of<BuiltinType::kDataValue>(inner_dv),
      Variant::array_of<BuiltinType::kVariant>(
          {Variant::of<BuiltinType::kInt32>(1), Variant::of<BuiltinType::kString>("two")}),
      Variant::of<BuiltinType::kDiagnosticInfo>(diag),
  };
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(values[i].type()), i + 1);
    EXPECT_EQ(round_trip(values[i]), values[i]) << describe(values[i]);
  }
}

TEST(OpcuaVariantTest, ScalarBytesFollowTheEncodingMask) {
  EXPECT_EQ(hex(encode_to_bytes(Variant())), "00");
  EXPECT_EQ(hex(encode_to_bytes(Variant::of<BuiltinType::kInt32>(5))), "06 05 00 00 00");
  EXPECT_EQ(hex(encode_to_bytes(Variant::of<BuiltinType::kBoolean>(true))), "01 01");
  EXPECT_EQ(hex(encode_to_bytes(Variant::of<BuiltinType::kDouble>(1.0))),
            "0b 00 00 00 00 00 00 f0 3f");
  // An Int32 array of two: the array bit, the length, the elements.
  EXPECT_EQ(hex(encode_to_bytes(Variant::array_of<BuiltinType::kInt32>({1, 2}))),
            "86 02 00 00 00 01 00 00 00 02 00 00 00");
}

TEST(OpcuaVariantTest, MultiDimensionalArrayKeepsItsDimensions) {
  const Variant m = Variant::array_of<BuiltinType::kInt32>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Bytes bytes = encode_to_bytes(m);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 0xC6);  // Int32 | dimensions | array
  const Variant back = round_trip(m);
  EXPECT_EQ(back, m);
  EXPECT_EQ(back.dimensions(), (std::vector<int32_t>{2, 3}));
  ASSERT_NE(back.array<int32_t>(), nullptr);
  EXPECT_EQ(back.array<int32_t>()->at(5), 6);
}

TEST(OpcuaVariantTest, DimensionsThatDoNotMatchTheArrayAreCorruption) {
  // Int32[2] {1, 2} with dimensions [2, 3].
  Result<Variant> r = decode_all<Variant>(
      unhex("c6 02 00 00 00 01 00 00 00 02 00 00 00 02 00 00 00 02 00 00 00 03 00 00 00"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("dimensions"), std::string::npos);
  // Dimensions without the array bit.
  EXPECT_FALSE(decode_all<Variant>(unhex("46 01 00 00 00")).ok());
  // Negative dimension.
  EXPECT_FALSE(
      decode_all<Variant>(unhex("c6 01 00 00 00 01 00 00 00 01 00 00 00 ff ff ff ff")).ok());
}

TEST(OpcuaVariantTest, UnknownBuiltinTypeIsCorruptionWithTheOffset) {
  Result<Variant> r = decode_all<Variant>(unhex("1a 00"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("unknown built-in type 26"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("offset"), std::string::npos);
  EXPECT_FALSE(decode_all<Variant>(unhex("80 00 00 00 00")).ok());  // null type with array bit
}

TEST(OpcuaVariantTest, ForgedArrayLengthsAreRefusedBeforeAllocating) {
  // 1,000,000 Doubles announced, 8 bytes present.
  EXPECT_FALSE(decode_all<Variant>(unhex("8b 40 42 0f 00 00 00 00 00 00 00 f0 3f")).ok());
  // Above the array limit, and negative below -1.
  EXPECT_FALSE(decode_all<Variant>(unhex("83 ff ff ff 7f")).ok());
  EXPECT_FALSE(decode_all<Variant>(unhex("83 fe ff ff ff")).ok());
  // A String element with a huge length.
  EXPECT_FALSE(decode_all<Variant>(unhex("0c ff ff ff 7f 41")).ok());
  // -1 is a null array: an empty array.
  Result<Variant> null_array = decode_all<Variant>(unhex("86 ff ff ff ff"));
  ASSERT_TRUE(null_array.ok());
  EXPECT_TRUE(null_array->is_array());
  EXPECT_EQ(null_array->size(), 0u);
}

TEST(OpcuaVariantTest, DeeplyNestedVariantsAreRefusedNotOverflowed) {
  // Variant[1] of Variant[1] of ... 10,000 levels.
  std::string bytes;
  for (int i = 0; i < 10000; ++i) bytes += unhex("98 01 00 00 00");
  bytes += unhex("06 01 00 00 00");
  Result<Variant> r = decode_all<Variant>(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nesting"), std::string::npos) << r.status().message();

  // 50 levels are fine.
  std::string ok_bytes;
  for (int i = 0; i < 50; ++i) ok_bytes += unhex("98 01 00 00 00");
  ok_bytes += unhex("06 01 00 00 00");
  EXPECT_TRUE(decode_all<Variant>(ok_bytes).ok());
}

TEST(OpcuaVariantTest, DataValueInsideVariantCountsTowardNesting) {
  // DataValue -> Variant(DataValue) -> ... 5,000 levels.
  std::string bytes;
  for (int i = 0; i < 5000; ++i) bytes += unhex("01 17");
  bytes += "\x00";
  EXPECT_FALSE(decode_all<DataValue>(bytes).ok());
}

TEST(OpcuaVariantTest, EveryTruncationOfAValueIsAnErrorNotACrash) {
  DataValue dv;
  dv.value = Variant::array_of<BuiltinType::kVariant>(
      {Variant::of<BuiltinType::kString>("abc"),
       Variant::array_of<BuiltinType::kDouble>({1, 2, 3, 4}, {2, 2}),
       Variant::of<BuiltinType::kLocalizedText>(LocalizedText{"en", "x"}),
       Variant::of<BuiltinType::kExpandedNodeId>(
           ExpandedNodeId{NodeId::make_string(0, "n"), "urn:q", 4})});
  dv.status = status::kUncertainSubNormal;
  dv.source_timestamp = 133000000000000000;
  dv.source_picoseconds = 9;
  dv.server_timestamp = 133000000000000001;
  dv.server_picoseconds = 10;
  const Bytes bytes = encode_to_bytes(dv);
  EXPECT_EQ(round_trip(dv), dv);
  for (size_t n = 0; n < bytes.size(); ++n) {
    Result<DataValue> r = decode_all<DataValue>(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes";
  }
  // One byte too many is an error too.
  EXPECT_FALSE(decode_all<DataValue>(bytes + "x").ok());
}

// ---- DataValue, DiagnosticInfo, ExtensionObject ----

TEST(OpcuaDataValueTest, EveryMaskBitIsEncodedInPart6Order) {
  DataValue dv;
  dv.value = Variant::of<BuiltinType::kByte>(1);
  dv.status = 0x80340000;
  dv.source_timestamp = 2;
  dv.source_picoseconds = 3;
  dv.server_timestamp = 4;
  dv.server_picoseconds = 5;
  EXPECT_EQ(hex(encode_to_bytes(dv)),
            "3f 03 01 00 00 34 80 02 00 00 00 00 00 00 00 03 00 04 00 00 00 00 00 00 00 05 00");
  EXPECT_EQ(round_trip(dv), dv);
  EXPECT_EQ(hex(encode_to_bytes(DataValue{})), "00");
}

TEST(OpcuaDiagnosticInfoTest, NestedInfoRoundTripsAndDepthIsLimited) {
  DiagnosticInfo d;
  d.symbolic_id = 1;
  d.namespace_uri = 2;
  d.locale = 3;
  d.localized_text = 4;
  d.additional_info = "outer";
  d.inner_status_code = status::kBadInternalError;
  DiagnosticInfo inner;
  inner.additional_info = "inner";
  d.inner.push_back(inner);
  const Bytes bytes = encode_to_bytes(d);
  // Locale is written before LocalizedText although its mask bit is higher.
  EXPECT_EQ(hex(bytes.substr(0, 17)), "7f 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00");
  EXPECT_EQ(round_trip(d), d);

  std::string deep(5000, '\x40');
  deep += '\x00';
  Result<DiagnosticInfo> r = decode_all<DiagnosticInfo>(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nesting"), std::string::npos);
}

TEST(OpcuaExtensionObjectTest, UnknownBodyIsKeptAsBytesWithItsTypeId) {
  ExtensionObject eo;
  eo.type_id = NodeId::make_numeric(3, 5001);
  eo.encoding = ExtensionObject::Encoding::kBinary;
  eo.body = "\x01\x02\x03";
  EXPECT_EQ(hex(encode_to_bytes(eo)), "01 03 89 13 01 03 00 00 00 01 02 03");
  EXPECT_EQ(round_trip(eo), eo);
  ExtensionObject xml;
  xml.type_id = NodeId::make_numeric(0, 5);
  xml.encoding = ExtensionObject::Encoding::kXml;
  xml.body = "<x/>";
  EXPECT_EQ(round_trip(xml), xml);
  EXPECT_EQ(hex(encode_to_bytes(ExtensionObject{})), "00 00 00");
  EXPECT_TRUE(ExtensionObject{}.is_null());
  EXPECT_FALSE(decode_all<ExtensionObject>(unhex("00 00 03 00 00 00 00")).ok());     // encoding 3
  EXPECT_FALSE(decode_all<ExtensionObject>(unhex("00 00 01 10 00 00 00 01")).ok());  // short
}

// ---- Variant <-> Value ----

TEST(OpcuaValueTest, ScalarsConvertToSluiceValues) {
  EXPECT_TRUE(identical(*to_value(Variant::of<BuiltinType::kBoolean>(true)), Value(true)));
  EXPECT_TRUE(identical(*to_value(Variant::of<BuiltinType::kSByte>(-5)), Value(int64_t{-5})));
  EXPECT_TRUE(identical(*to_value(Variant::of<BuiltinType::kUInt32>(4000000000u)),
                        Value(int64_t{4000000000})));
  EXPECT_TRUE(identical(*to_value(Variant::of<BuiltinType::kUInt64>(5)), Value(int64_t{5})));
  EXPECT_TRUE(identical(*to_value(Variant::of<BuiltinType::kUInt64>(1ull << 63)),
                        Value(9223372036854775808.0)));
  EXPECT_TRUE(identical(*to_value(Variant::of<BuiltinType::kFloat>(0.5f)), Value(0.5)));
  EXPECT_TRUE(
      identical(*to_value(Variant::of<BuiltinType::kString>("x")), Value(std::string("x"))));
  EXPECT_TRUE(
      identical(*to_value(Variant::of<BuiltinType::kLocalizedText>(LocalizedText{"en", "t"})),
                Value(std::string("t"))));
  EXPECT_TRUE(identical(
      *to_value(Variant::of<BuiltinType::kDateTime>(unix_ns_to_datetime(1700000000123456700))),
      Value(int64_t{1700000000123456700})));
  EXPECT_TRUE(identical(*to_value(Variant::of<BuiltinType::kNodeId>(NodeId::make_numeric(1, 2))),
                        Value(std::string("ns=1;i=2"))));
  EXPECT_TRUE(identical(*to_value(Variant::of<BuiltinType::kByteString>("sluice")),
                        Value(std::string("c2x1aWNl"))));
  EXPECT_TRUE(identical(*to_value(Variant::of<BuiltinType::kStatusCode>(status::kBadTimeout)),
                        Value(int64_t{0x800A0000})));
}

TEST(OpcuaValueTest, NonScalarsAreRefusedSayingWhatTheyAre) {
  Result<Value> arr = to_value(Variant::array_of<BuiltinType::kDouble>({1, 2}));
  ASSERT_FALSE(arr.ok());
  EXPECT_NE(arr.status().message().find("array of Double"), std::string::npos);
  EXPECT_FALSE(to_value(Variant()).ok());
  Result<Value> eo = to_value(Variant::of<BuiltinType::kExtensionObject>(ExtensionObject{}));
  ASSERT_FALSE(eo.ok());
  EXPECT_NE(eo.status().message().find("ExtensionObject"), std::string::npos);
}

TEST(OpcuaValueTest, WritesConvertExactValuesAndRefuseLossyOnes) {
  EXPECT_EQ(*from_value(Value(21.0), BuiltinType::kInt16), Variant::of<BuiltinType::kInt16>(21));
  EXPECT_EQ(*from_value(Value(int64_t{255}), BuiltinType::kByte),
            Variant::of<BuiltinType::kByte>(255));
  EXPECT_EQ(*from_value(Value(true), BuiltinType::kBoolean),
            Variant::of<BuiltinType::kBoolean>(true));
  EXPECT_EQ(*from_value(Value(int64_t{1}), BuiltinType::kBoolean),
            Variant::of<BuiltinType::kBoolean>(true));
  EXPECT_EQ(*from_value(Value(std::string("42")), BuiltinType::kInt32),
            Variant::of<BuiltinType::kInt32>(42));
  EXPECT_EQ(*from_value(Value(std::string("18446744073709551615")), BuiltinType::kUInt64),
            Variant::of<BuiltinType::kUInt64>(std::numeric_limits<uint64_t>::max()));
  EXPECT_EQ(*from_value(Value(1.5), BuiltinType::kFloat), Variant::of<BuiltinType::kFloat>(1.5f));
  EXPECT_EQ(*from_value(Value(int64_t{7}), BuiltinType::kDouble),
            Variant::of<BuiltinType::kDouble>(7.0));
  EXPECT_EQ(*from_value(Value(std::string("ns=2;s=X")), BuiltinType::kNodeId),
            Variant::of<BuiltinType::kNodeId>(NodeId::make_string(2, "X")));
  EXPECT_EQ(*from_value(Value(int64_t{1700000000000000000}), BuiltinType::kDateTime),
            Variant::of<BuiltinType::kDateTime>(unix_ns_to_datetime(1700000000000000000)));

  struct Bad {
    Value value;
    BuiltinType type;
    const char* says;
  };
  const Bad bad[] = {
      {Value(21.5), BuiltinType::kInt16, "not a whole number"},
      {Value(int64_t{70000}), BuiltinType::kInt16, "out of range -32768..32767"},
      {Value(int64_t{-1}), BuiltinType::kUInt32, "out of range 0..4294967295"},
      {Value(1e39), BuiltinType::kFloat, "Float's range"},
      {Value(std::nan("")), BuiltinType::kInt32, "finite"},
      {Value(int64_t{2}), BuiltinType::kBoolean, "0 and 1"},
      {Value(std::string("4x")), BuiltinType::kInt32, "not a number"},
      {Value(std::string("yes")), BuiltinType::kBoolean, "true"},
      {Value(1.0), BuiltinType::kExtensionObject, "does not convert"},
  };
  for (const Bad& b : bad) {
    Result<Variant> r = from_value(b.value, b.type);
    ASSERT_FALSE(r.ok()) << builtin_type_name(b.type);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(b.says), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(builtin_type_name(b.type)), std::string::npos);
  }
}

TEST(OpcuaValueTest, BuiltinTypeNamesParseCaseInsensitively) {
  EXPECT_EQ(builtin_type_from_name("double"), BuiltinType::kDouble);
  EXPECT_EQ(builtin_type_from_name("UInt16"), BuiltinType::kUInt16);
  EXPECT_FALSE(builtin_type_from_name("float64").has_value());
  EXPECT_EQ(builtin_type_name(static_cast<BuiltinType>(40)), "BuiltinType(40)");
}

// ---- status codes ----

TEST(OpcuaStatusCodeTest, NamesCommonCodesIgnoringInfoBits) {
  EXPECT_EQ(status_name(status::kGood), "Good");
  EXPECT_EQ(status_name(status::kBadNodeIdUnknown), "BadNodeIdUnknown");
  EXPECT_EQ(status_name(status::kUncertainLastUsableValue), "UncertainLastUsableValue");
  EXPECT_EQ(status_name(status::kBadSessionIdInvalid | 0x0400), "BadSessionIdInvalid");
  EXPECT_EQ(status_to_string(status::kGoodOverload | 0x0480), "GoodOverload+0x0480");
  EXPECT_EQ(status_to_string(0x80FF0000), "Bad(0x80FF0000)");
  EXPECT_EQ(status_to_string(0x40FF0000), "Uncertain(0x40FF0000)");
  EXPECT_EQ(status_name(0x80FF0000), "");
}

TEST(OpcuaStatusCodeTest, EveryNamedConstantHasItsOwnName) {
  struct Case {
    StatusCode code;
    const char* name;
  };
  const Case cases[] = {
      {status::kBadTimeout, "BadTimeout"},
      {status::kBadCommunicationError, "BadCommunicationError"},
      {status::kBadSecureChannelClosed, "BadSecureChannelClosed"},
      {status::kBadTooManyMonitoredItems, "BadTooManyMonitoredItems"},
      {status::kBadNotWritable, "BadNotWritable"},
      {status::kBadTypeMismatch, "BadTypeMismatch"},
      {status::kBadWaitingForInitialData, "BadWaitingForInitialData"},
      {status::kBadNoSubscription, "BadNoSubscription"},
      {status::kUncertainSubNormal, "UncertainSubNormal"},
      {status::kBadNotExecutable, "BadNotExecutable"},
  };
  for (const Case& c : cases) EXPECT_EQ(status_name(c.code), c.name);
  // Sluice's own quality constants are OPC UA codes with the same names.
  EXPECT_EQ(status_name(quality::kBadNotConnected), "BadNotConnected");
  EXPECT_EQ(status_name(quality::kBadNoData), "BadNoData");
}

TEST(OpcuaBase64Test, RoundTripsAndRefusesBadCharacters) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    Result<std::string> back = base64_decode(base64_encode(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(base64_encode("sluice"), "c2x1aWNl");
  EXPECT_FALSE(base64_decode("ab$d").ok());
  EXPECT_FALSE(base64_decode("abcde").ok());
}

}  // namespace
}  // namespace sluice::opcua
