// The catalogue of source types: a short list searched by name.
#include "runtime/source_types.h"

#include <algorithm>

namespace sluice::runtime {

void SourceTypes::add(SourceType type) {
  for (SourceType& t : types_) {
    if (t.name == type.name) {
      t = std::move(type);
      return;
    }
  }
  types_.push_back(std::move(type));
}

const SourceType* SourceTypes::find(std::string_view name) const {
  for (const SourceType& t : types_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::vector<std::string> SourceTypes::names() const {
  std::vector<std::string> names;
  names.reserve(types_.size());
  for (const SourceType& t : types_) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  return names;
}

void SourceTypes::add_sink(SinkType type) {
  for (SinkType& t : sink_types_) {
    if (t.name == type.name) {
      t = std::move(type);
      return;
    }
  }
  sink_types_.push_back(std::move(type));
}

const SinkType* SourceTypes::find_sink(std::string_view name) const {
  for (const SinkType& t : sink_types_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::vector<std::string> SourceTypes::sink_names() const {
  std::vector<std::string> names;
  names.reserve(sink_types_.size());
  for (const SinkType& t : sink_types_) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  return names;
}

void SourceTypes::add_document(DocumentType type) {
  for (DocumentType& t : document_types_) {
    if (t.name == type.name) {
      t = std::move(type);
      return;
    }
  }
  document_types_.push_back(std::move(type));
}

const DocumentType* SourceTypes::find_document(std::string_view name) const {
  for (const DocumentType& t : document_types_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace sluice::runtime
