// The web UI's static files (see static_files.h).
#include "api/static_files.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>

namespace sluice::api {
namespace {

namespace fs = std::filesystem;

// Larger files are not UI files; refusing them bounds what one request reads into memory.
constexpr uintmax_t kMaxFileBytes = 8u << 20;

struct ContentType {
  std::string_view extension;
  std::string_view type;
};
// The types the UI is made of; other files in the folder (package.json, the lock file, notes) are
// not served.
constexpr std::array<ContentType, 7> kContentTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
}};

// The browser libraries, by the name the UI asks for, inside web/node_modules (npm ci in web/,
// which scripts/setup runs).
const std::map<std::string, std::string, std::less<>>& vendor_files() {
  static const std::map<std::string, std::string, std::less<>> files = {
      {"htmx.min.js", "node_modules/htmx.org/dist/htmx.min.js"},
      {"uPlot.iife.min.js", "node_modules/uplot/dist/uPlot.iife.min.js"},
      {"uPlot.min.css", "node_modules/uplot/dist/uPlot.min.css"},
  };
  return files;
}

std::optional<std::string_view> content_type(std::string_view name) {
  for (const ContentType& c : kContentTypes) {
    if (name.size() > c.extension.size() && name.ends_with(c.extension)) return c.type;
  }
  return std::nullopt;
}

// A file name the UI may ask for: one path segment, no "..", no hidden file.
bool safe_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.find("..") != std::string_view::npos) {
    return false;
  }
  for (const char c : name) {
    if (c == '/' || c == '\\' || c == '\0') return false;
  }
  return true;
}

HttpResponse not_found(std::string_view what) {
  return error_response(404, fmt::format("no such file of the web UI: {}", what));
}

// What the server must add so that the UI's pages load only the UI's own scripts.
void add_security_headers(HttpResponse& r) {
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; script-src 'self'; style-src 'self' "
                         "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                         "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
}

// Serves `relative` under `root` (canonical), which must stay under it once symlinks resolve.
HttpResponse serve(const fs::path& root, const std::string& relative, const HttpRequest& request,
                   std::string_view shown_name) {
  const std::optional<std::string_view> type = content_type(relative);
  if (!type) return not_found(shown_name);
  std::error_code ec;
  const fs::path real = fs::canonical(root / relative, ec);
  if (ec) return not_found(shown_name);
  // A symlink (or a name) that leads out of the web folder is not served.
  const auto [root_end, real_it] =
      std::mismatch(root.begin(), root.end(), real.begin(), real.end());
  if (root_end != root.end()) return not_found(shown_name);
  const fs::file_status st = fs::status(real, ec);
  if (ec || !fs::is_regular_file(st)) return not_found(shown_name);
  const uintmax_t size = fs::file_size(real, ec);
  if (ec || size > kMaxFileBytes) return not_found(shown_name);
  const auto mtime = fs::last_write_time(real, ec);
  if (ec) return not_found(shown_name);
  const std::string etag =
      fmt::format("\"{:x}-{:x}\"", size, static_cast<uint64_t>(mtime.time_since_epoch().count()));

  HttpResponse r;
  r.content_type = std::string(*type);
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", "no-cache");
  add_security_headers(r);
  if (request.header("if-none-match") == etag) {
    r.status = 304;
    return r;
  }
  std::ifstream in(real, std::ios::binary);
  std::ostringstream body;
  body << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return error_response(500, fmt::format("cannot read {}", real.string()));
  }
  r.body = std::move(body).str();
  return r;
}

std::string binary_dir() {
  std::array<char, 4096> buf{};
  const ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return {};
  return fs::path(std::string(buf.data(), static_cast<size_t>(n))).parent_path().string();
}

}  // namespace

std::string default_web_dir() {
  if (const char* env = std::getenv("SLUICE_WEB_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  if (const std::string bin = binary_dir(); !bin.empty()) {
    const fs::path beside = fs::path(bin) / ".." / "web";
    if (fs::is_regular_file(beside / "index.html", ec))
      return fs::weakly_canonical(beside).string();
  }
#ifdef SLUICE_SOURCE_DIR
  const fs::path source = fs::path(SLUICE_SOURCE_DIR) / "web";
  if (fs::is_regular_file(source / "index.html", ec)) return source.string();
#endif
  return {};
}

void register_static_routes(Router& router, std::string web_dir) {
  std::error_code ec;
  const fs::path root = web_dir.empty() ? fs::path() : fs::canonical(web_dir, ec);
  if (web_dir.empty() || ec || !fs::is_regular_file(root / "index.html", ec)) {
    spdlog::warn(
        "web UI: no web folder{}{}; the API serves no UI at / (set SLUICE_WEB_DIR to the "
        "folder that holds index.html)",
        web_dir.empty() ? "" : " at ", web_dir);
    router.add_public("GET", "/", [](const HttpRequest&, const PathParams&) {
      return error_response(
          404,
          "the web UI is not installed here: set SLUICE_WEB_DIR to the web/ "
          "folder of Sluice's sources (with its node_modules from scripts/setup)");
    });
    return;
  }
  if (!fs::is_directory(root / "node_modules", ec)) {
    spdlog::warn("web UI: {} has no node_modules (htmx, uPlot): run scripts/setup", root.string());
  }
  spdlog::info("web UI served from {}", root.string());
  router.add_public("GET", "/", [root](const HttpRequest& r, const PathParams&) {
    return serve(root, "index.html", r, "/");
  });
  router.add_public("GET", "/{file}", [root](const HttpRequest& r, const PathParams& p) {
    const std::string& name = p.at("file");
    if (!safe_name(name)) return not_found(name);
    return serve(root, name, r, name);
  });
  router.add_public("GET", "/vendor/{file}", [root](const HttpRequest& r, const PathParams& p) {
    const std::string& name = p.at("file");
    const auto& files = vendor_files();
    auto it = files.find(name);
    if (it == files.end()) return not_found("vendor/" + name);
    return serve(root, it->second, r, "vendor/" + name);
  });
}

}  // namespace sluice::api
