// The CSV of the `files` sink (the data-lake batch upload): one file per upload interval, with a
// header and one row per sample — timestamp (ISO-8601 UTC with milliseconds), series, value,
// quality, unit — quoted as RFC 4180 says (fields with a comma, quote, CR or LF are quoted,
// quotes doubled; lines end with CRLF). Files reach their directory atomically: written under a
// temporary name, synced, renamed, the directory synced; so a reader of the directory (or an
// uploader) never sees half a file, and after a crash the file is whole or absent.
#pragma once

#include <string>
#include <string_view>

#include "core/sample.h"
#include "core/status.h"
#include "io/env.h"

namespace sluice::sinks::files {

inline constexpr std::string_view kCsvHeader = "timestamp,series,value,quality,unit\r\n";

// "2026-11-24T03:15:05.618Z" (milliseconds, truncated toward the past).
std::string iso8601_ms(Timestamp ts);

// Appends one CSV field, quoted when it must be.
void append_field(std::string& out, std::string_view field);

// The value as text: shortest round-trip decimal for doubles ("NaN", "Inf", "-Inf" for the
// special values), integers as integers, bools as true/false, strings as they are.
std::string value_text(const Value& v);

// Appends one row (CRLF-terminated).
void append_row(std::string& out, const Sample& sample, std::string_view unit);

// A unique, sortable file name: "<connector>_<first ts>_<last ts>_<tag>.csv", times in compact
// UTC ("20261124T031505.618Z"); `tag` tells apart files with the same time range (e.g. the
// first sequence of the batch). The connector name is reduced to [A-Za-z0-9_.-].
std::string batch_file_name(std::string_view connector, Timestamp first, Timestamp last,
                            std::string_view tag);

// Writes `content` to dir/name atomically and durably (temp name, sync, rename, sync dir).
// Returns kAlreadyExists without writing if dir/name exists (names are unique: a second file of
// the same name means the same batch was already delivered).
Status deliver_file(Env& env, const std::string& dir, const std::string& name,
                    std::string_view content);

}  // namespace sluice::sinks::files
