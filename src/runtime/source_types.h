// The catalogue of service types the binary knows: source types ("simulator", "mqtt", ...)
// and sink types ("files", later "forward", "postgres", ...). Each type contributes two things: the
// parser of its own keys in a [[sources]] table, and through the settings it parsed, the factory of
// its Source. The runtime and the config parser only see this interface; a new protocol is a new
// folder that registers one SourceType (the list of registrations is in cli/builtin_sources.cpp).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runtime/config_table.h"
#include "runtime/service.h"
#include "runtime/sink.h"

namespace sluice::runtime {

// What a source type's parser made of its keys. Immutable once parsed; shared by copies of the
// Config.
class SourceSettings {
 public:
  virtual ~SourceSettings() = default;
  // One line for `sluice validate` and the start-up log: "100 series (mixed), 1000 samples/s".
  virtual std::string summary() const = 0;
  // Builds the source named `name` from these settings.
  virtual Result<std::unique_ptr<Source>> create(const std::string& name) const = 0;
};

struct SourceType {
  std::string name;
  // Reads the type's own keys from the table (name, type and enabled are read by the caller).
  // Bad values are reported through the table; the returned settings then hold fallbacks, and
  // the config as a whole is rejected. Never returns null.
  std::function<std::shared_ptr<const SourceSettings>(ConfigTable& table)> parse;
};

// What a sink type's parser made of its keys (see SourceSettings).
class SinkSettings {
 public:
  virtual ~SinkSettings() = default;
  virtual std::string summary() const = 0;
  virtual Result<std::unique_ptr<Sink>> create(const std::string& name) const = 0;
};

struct SinkType {
  std::string name;
  std::function<std::shared_ptr<const SinkSettings>(ConfigTable& table)> parse;
};

// A kind of document the config file holds besides services, as an array of tables: [[rules]],
// [[notifications]], [[scripts]], [[acls]] (registered by control/documents.h). The config
// parser checks each table with `check` (its errors go through the table, so they name the line
// and key) and keeps it as JSON text (Config::documents): the form the state database keeps
// documents in and the REST API sends and takes, read again through runtime::JsonTable.
struct DocumentType {
  std::string name;  // the array's key, e.g. "rules"
  // Reads and checks every key of one table (its `name` included).
  std::function<void(ConfigTable& table)> check;
};

// Source and sink types by name. (Named for its first half; it holds both.)
class SourceTypes {
 public:
  // Adds a type; a second type with the same name replaces the first.
  void add(SourceType type);
  const SourceType* find(std::string_view name) const;
  // The names, sorted, for "known types are ..." messages.
  std::vector<std::string> names() const;

  void add_sink(SinkType type);
  const SinkType* find_sink(std::string_view name) const;
  std::vector<std::string> sink_names() const;

  void add_document(DocumentType type);
  const DocumentType* find_document(std::string_view name) const;
  const std::vector<DocumentType>& documents() const { return document_types_; }

 private:
  std::vector<SourceType> types_;
  std::vector<SinkType> sink_types_;
  std::vector<DocumentType> document_types_;
};

}  // namespace sluice::runtime
