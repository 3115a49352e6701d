// Well-known numeric node ids in namespace 0 (Part 6, annex A / NodeIds.csv) that Sluice's
// OPC UA client names: data types, the DefaultBinary encodings of the service messages and
// structures it encodes or decodes, standard objects, variables and reference types, and the
// attribute ids (Part 6, A.1). One header shared by the encoder and the session layer.
#pragma once

#include <cstdint>

namespace sluice::opcua::ids {

// clang-format off
// Data types (the built-in ones have the built-in type's number).
inline constexpr uint32_t kBoolean = 1;
inline constexpr uint32_t kSByte = 2;
inline constexpr uint32_t kByte = 3;
inline constexpr uint32_t kInt16 = 4;
inline constexpr uint32_t kUInt16 = 5;
inline constexpr uint32_t kInt32 = 6;
inline constexpr uint32_t kUInt32 = 7;
inline constexpr uint32_t kInt64 = 8;
inline constexpr uint32_t kUInt64 = 9;
inline constexpr uint32_t kFloat = 10;
inline constexpr uint32_t kDouble = 11;
inline constexpr uint32_t kString = 12;
inline constexpr uint32_t kDateTime = 13;
inline constexpr uint32_t kGuid = 14;
inline constexpr uint32_t kByteString = 15;
inline constexpr uint32_t kXmlElement = 16;
inline constexpr uint32_t kNodeId = 17;
inline constexpr uint32_t kExpandedNodeId = 18;
inline constexpr uint32_t kStatusCode = 19;
inline constexpr uint32_t kQualifiedName = 20;
inline constexpr uint32_t kLocalizedText = 21;
inline constexpr uint32_t kStructure = 22;
inline constexpr uint32_t kDataValue = 23;
inline constexpr uint32_t kBaseDataType = 24;
inline constexpr uint32_t kDiagnosticInfo = 25;
inline constexpr uint32_t kNumber = 26;
inline constexpr uint32_t kInteger = 27;
inline constexpr uint32_t kUInteger = 28;
inline constexpr uint32_t kEnumeration = 29;
inline constexpr uint32_t kImage = 30;
inline constexpr uint32_t kDecimal = 50;
inline constexpr uint32_t kDuration = 290;
inline constexpr uint32_t kUtcTime = 294;
inline constexpr uint32_t kLocaleId = 295;
inline constexpr uint32_t kArgument = 296;
inline constexpr uint32_t kBuildInfo = 338;
inline constexpr uint32_t kServerStatusDataType = 862;
inline constexpr uint32_t kRange = 884;
inline constexpr uint32_t kEUInformation = 887;

// DefaultBinary encodings: the type id written before a service message's body, and the
// ExtensionObject type id of the structures Sluice knows.
inline constexpr uint32_t kArgument_Encoding_DefaultBinary = 298;
inline constexpr uint32_t kAnonymousIdentityToken_Encoding_DefaultBinary = 321;
inline constexpr uint32_t kUserNameIdentityToken_Encoding_DefaultBinary = 324;
inline constexpr uint32_t kX509IdentityToken_Encoding_DefaultBinary = 327;
inline constexpr uint32_t kBuildInfo_Encoding_DefaultBinary = 340;
inline constexpr uint32_t kRequestHeader_Encoding_DefaultBinary = 391;
inline constexpr uint32_t kResponseHeader_Encoding_DefaultBinary = 394;
inline constexpr uint32_t kServiceFault_Encoding_DefaultBinary = 397;
inline constexpr uint32_t kFindServersRequest_Encoding_DefaultBinary = 422;
inline constexpr uint32_t kFindServersResponse_Encoding_DefaultBinary = 425;
inline constexpr uint32_t kGetEndpointsRequest_Encoding_DefaultBinary = 428;
inline constexpr uint32_t kGetEndpointsResponse_Encoding_DefaultBinary = 431;
inline constexpr uint32_t kOpenSecureChannelRequest_Encoding_DefaultBinary = 446;
inline constexpr uint32_t kOpenSecureChannelResponse_Encoding_DefaultBinary = 449;
inline constexpr uint32_t kCloseSecureChannelRequest_Encoding_DefaultBinary = 452;
inline constexpr uint32_t kCloseSecureChannelResponse_Encoding_DefaultBinary = 455;
inline constexpr uint32_t kCreateSessionRequest_Encoding_DefaultBinary = 461;
inline constexpr uint32_t kCreateSessionResponse_Encoding_DefaultBinary = 464;
inline constexpr uint32_t kActivateSessionRequest_Encoding_DefaultBinary = 467;
inline constexpr uint32_t kActivateSessionResponse_Encoding_DefaultBinary = 470;
inline constexpr uint32_t kCloseSessionRequest_Encoding_DefaultBinary = 473;
inline constexpr uint32_t kCloseSessionResponse_Encoding_DefaultBinary = 476;
inline constexpr uint32_t kBrowseRequest_Encoding_DefaultBinary = 527;
inline constexpr uint32_t kBrowseResponse_Encoding_DefaultBinary = 530;
inline constexpr uint32_t kBrowseNextRequest_Encoding_DefaultBinary = 533;
inline constexpr uint32_t kBrowseNextResponse_Encoding_DefaultBinary = 536;
inline constexpr uint32_t kTranslateBrowsePathsToNodeIdsRequest_Encoding_DefaultBinary = 554;
inline constexpr uint32_t kTranslateBrowsePathsToNodeIdsResponse_Encoding_DefaultBinary = 557;
inline constexpr uint32_t kRegisterNodesRequest_Encoding_DefaultBinary = 560;
inline constexpr uint32_t kRegisterNodesResponse_Encoding_DefaultBinary = 563;
inline constexpr uint32_t kUnregisterNodesRequest_Encoding_DefaultBinary = 566;
inline constexpr uint32_t kUnregisterNodesResponse_Encoding_DefaultBinary = 569;
inline constexpr uint32_t kReadRequest_Encoding_DefaultBinary = 631;
inline constexpr uint32_t kReadResponse_Encoding_DefaultBinary = 634;
inline constexpr uint32_t kWriteRequest_Encoding_DefaultBinary = 673;
inline constexpr uint32_t kWriteResponse_Encoding_DefaultBinary = 676;
inline constexpr uint32_t kCallRequest_Encoding_DefaultBinary = 712;
inline constexpr uint32_t kCallResponse_Encoding_DefaultBinary = 715;
inline constexpr uint32_t kDataChangeFilter_Encoding_DefaultBinary = 724;
inline constexpr uint32_t kEventFilter_Encoding_DefaultBinary = 727;
inline constexpr uint32_t kAggregateFilter_Encoding_DefaultBinary = 730;
inline constexpr uint32_t kEventFilterResult_Encoding_DefaultBinary = 736;
inline constexpr uint32_t kCreateMonitoredItemsRequest_Encoding_DefaultBinary = 751;
inline constexpr uint32_t kCreateMonitoredItemsResponse_Encoding_DefaultBinary = 754;
inline constexpr uint32_t kModifyMonitoredItemsRequest_Encoding_DefaultBinary = 763;
inline constexpr uint32_t kModifyMonitoredItemsResponse_Encoding_DefaultBinary = 766;
inline constexpr uint32_t kSetMonitoringModeRequest_Encoding_DefaultBinary = 769;
inline constexpr uint32_t kSetMonitoringModeResponse_Encoding_DefaultBinary = 772;
inline constexpr uint32_t kDeleteMonitoredItemsRequest_Encoding_DefaultBinary = 781;
inline constexpr uint32_t kDeleteMonitoredItemsResponse_Encoding_DefaultBinary = 784;
inline constexpr uint32_t kCreateSubscriptionRequest_Encoding_DefaultBinary = 787;
inline constexpr uint32_t kCreateSubscriptionResponse_Encoding_DefaultBinary = 790;
inline constexpr uint32_t kModifySubscriptionRequest_Encoding_DefaultBinary = 793;
inline constexpr uint32_t kModifySubscriptionResponse_Encoding_DefaultBinary = 796;
inline constexpr uint32_t kSetPublishingModeRequest_Encoding_DefaultBinary = 799;
inline constexpr uint32_t kSetPublishingModeResponse_Encoding_DefaultBinary = 802;
inline constexpr uint32_t kDataChangeNotification_Encoding_DefaultBinary = 811;
inline constexpr uint32_t kStatusChangeNotification_Encoding_DefaultBinary = 820;
inline constexpr uint32_t kPublishRequest_Encoding_DefaultBinary = 826;
inline constexpr uint32_t kPublishResponse_Encoding_DefaultBinary = 829;
inline constexpr uint32_t kRepublishRequest_Encoding_DefaultBinary = 832;
inline constexpr uint32_t kRepublishResponse_Encoding_DefaultBinary = 835;
inline constexpr uint32_t kTransferSubscriptionsRequest_Encoding_DefaultBinary = 841;
inline constexpr uint32_t kTransferSubscriptionsResponse_Encoding_DefaultBinary = 844;
inline constexpr uint32_t kDeleteSubscriptionsRequest_Encoding_DefaultBinary = 847;
inline constexpr uint32_t kDeleteSubscriptionsResponse_Encoding_DefaultBinary = 850;
inline constexpr uint32_t kServerStatusDataType_Encoding_DefaultBinary = 864;
inline constexpr uint32_t kRange_Encoding_DefaultBinary = 886;
inline constexpr uint32_t kEUInformation_Encoding_DefaultBinary = 889;
inline constexpr uint32_t kEventNotificationList_Encoding_DefaultBinary = 916;
inline constexpr uint32_t kIssuedIdentityToken_Encoding_DefaultBinary = 940;

// Reference types.
inline constexpr uint32_t kReferences = 31;
inline constexpr uint32_t kNonHierarchicalReferences = 32;
inline constexpr uint32_t kHierarchicalReferences = 33;
inline constexpr uint32_t kHasChild = 34;
inline constexpr uint32_t kOrganizes = 35;
inline constexpr uint32_t kHasEventSource = 36;
inline constexpr uint32_t kHasModellingRule = 37;
inline constexpr uint32_t kHasEncoding = 38;
inline constexpr uint32_t kHasDescription = 39;
inline constexpr uint32_t kHasTypeDefinition = 40;
inline constexpr uint32_t kGeneratesEvent = 41;
inline constexpr uint32_t kAggregates = 44;
inline constexpr uint32_t kHasSubtype = 45;
inline constexpr uint32_t kHasProperty = 46;
inline constexpr uint32_t kHasComponent = 47;
inline constexpr uint32_t kHasNotifier = 48;
inline constexpr uint32_t kHasOrderedComponent = 49;

// Object and variable types.
inline constexpr uint32_t kBaseObjectType = 58;
inline constexpr uint32_t kFolderType = 61;
inline constexpr uint32_t kBaseVariableType = 62;
inline constexpr uint32_t kBaseDataVariableType = 63;
inline constexpr uint32_t kPropertyType = 68;
inline constexpr uint32_t kServerType = 2004;

// Standard objects and variables.
inline constexpr uint32_t kRootFolder = 84;
inline constexpr uint32_t kObjectsFolder = 85;
inline constexpr uint32_t kTypesFolder = 86;
inline constexpr uint32_t kViewsFolder = 87;
inline constexpr uint32_t kServer = 2253;
inline constexpr uint32_t kServer_ServerArray = 2254;
inline constexpr uint32_t kServer_NamespaceArray = 2255;
inline constexpr uint32_t kServer_ServerStatus = 2256;
inline constexpr uint32_t kServer_ServerStatus_StartTime = 2257;
inline constexpr uint32_t kServer_ServerStatus_CurrentTime = 2258;
inline constexpr uint32_t kServer_ServerStatus_State = 2259;
inline constexpr uint32_t kServer_ServerStatus_BuildInfo = 2260;
inline constexpr uint32_t kServer_ServiceLevel = 2267;
inline constexpr uint32_t kServer_ServerCapabilities_MaxBrowseContinuationPoints = 2735;
inline constexpr uint32_t kServer_ServerCapabilities_OperationLimits_MaxNodesPerRead = 11705;
inline constexpr uint32_t kServer_ServerCapabilities_OperationLimits_MaxNodesPerWrite = 11707;
inline constexpr uint32_t kServer_ServerCapabilities_OperationLimits_MaxNodesPerMethodCall = 11709;
inline constexpr uint32_t kServer_ServerCapabilities_OperationLimits_MaxNodesPerBrowse = 11710;
inline constexpr uint32_t kServer_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIds = 11712;
inline constexpr uint32_t kServer_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall = 11714;
// clang-format on

}  // namespace sluice::opcua::ids

namespace sluice::opcua {

// Attribute ids (Part 6, A.1), as ReadValueId / WriteValue carry them.
enum class AttributeId : uint32_t {
  kNodeId = 1,
  kNodeClass = 2,
  kBrowseName = 3,
  kDisplayName = 4,
  kDescription = 5,
  kWriteMask = 6,
  kUserWriteMask = 7,
  kIsAbstract = 8,
  kSymmetric = 9,
  kInverseName = 10,
  kContainsNoLoops = 11,
  kEventNotifier = 12,
  kValue = 13,
  kDataType = 14,
  kValueRank = 15,
  kArrayDimensions = 16,
  kAccessLevel = 17,
  kUserAccessLevel = 18,
  kMinimumSamplingInterval = 19,
  kHistorizing = 20,
  kExecutable = 21,
  kUserExecutable = 22,
  kDataTypeDefinition = 23,
  kRolePermissions = 24,
  kUserRolePermissions = 25,
  kAccessRestrictions = 26,
  kAccessLevelEx = 27,
};

}  // namespace sluice::opcua
