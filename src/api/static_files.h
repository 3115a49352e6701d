// The web UI's files (web/: index.html, app.js, style.css, and the vendored htmx and uPlot from
// web/node_modules) served by the API's server at `/`, without a login: the UI itself logs in
// through POST /api/v1/login and reads everything else through the JSON API.
//
// Only regular files of the UI's types (html, js, css, svg, png, ico) inside the web folder are
// served: a name with "..", a leading dot or a slash is refused, and so is a file whose real path
// (symlinks resolved) is outside the folder.
// Answers carry an ETag (size and modification time) and "Cache-Control: no-cache", so a browser
// revalidates each time and gets 304 while the file is unchanged.
#pragma once

#include <string>

#include "api/router.h"

namespace sluice::api {

// The folder the UI is served from: $SLUICE_WEB_DIR if set; else `<directory of the running
// binary>/../web` if that exists (an installed Sluice, or a build folder at the top of the
// source tree); else `<source dir>/web` of the build (SLUICE_SOURCE_DIR). Empty if none exists.
std::string default_web_dir();

// Adds the public GET routes `/`, `/{file}` and `/vendor/{file}` for the files of `web_dir`.
// Register after every other route: `/{file}` takes any one-segment path not matched before. With
// an empty or missing `web_dir`, `/` answers 404 saying how to get the UI.
void register_static_routes(Router& router, std::string web_dir);

}  // namespace sluice::api
