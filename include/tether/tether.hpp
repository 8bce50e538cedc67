#pragma once
// Everything a typical application needs, in one include.
#include <tether/browser/tether_js.hpp>   // serve_client (app.realtime serves it too)
#include <tether/cli.hpp>
#include <tether/config.hpp>
#include <tether/core/json_reader.hpp>
#include <tether/core/json_writer.hpp>
#include <tether/http/error.hpp>
#include <tether/http/query.hpp>
#include <tether/http/static_files.hpp>
#include <tether/middleware/access_log.hpp>
#include <tether/middleware/compress.hpp>
#include <tether/middleware/request_id.hpp>
#include <tether/middleware/security_headers.hpp>
#include <tether/server.hpp>
