// Static file serving (gateway/ops/static_files.hpp): safe path resolution, MIME types, no
// directory traversal (lexical or through symlinks), HEAD without a body, no listings.
#include <catch2/catch.hpp>

#include "gateway/ops/endpoints.hpp"
#include "gateway/ops/static_files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

using namespace nospace::ops;
namespace fs = std::filesystem;

namespace {

std::string header(const HttpReply &reply, const std::string &name) {
  for (const auto &[k, v] : reply.headers)
    if (k == name)
      return v;
  return {};
}

void write_file(const fs::path &p, const std::string &text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// A temporary front end:  site/index.html, site/app.js, site/img/logo.PNG, site/docs/ (index),
// site/empty/ (no index), site/.env, and a secret file next to (outside) the site.
struct Site {
  fs::path base, root;
  Site() {
    char tmpl[] = "/tmp/nospace-static-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    base = tmpl;
    root = base / "site";
    write_file(root / "index.html", "<h1>hi</h1>");
    write_file(root / "app.js", "console.log(1)");
    write_file(root / "img" / "logo.PNG", std::string("\x89PNG\0\x01", 6));
    write_file(root / "docs" / "index.html", "docs");
    fs::create_directories(root / "empty");
    write_file(root / ".env", "SECRET=1");
    write_file(base / "secret.txt", "outside");
  }
  ~Site() { fs::remove_all(base); }
};

} // namespace

TEST_CASE("safe_relative_path refuses traversal, dotfiles, NUL and bad escapes") {
  CHECK(safe_relative_path("/") == "index.html");
  CHECK(safe_relative_path("/app.js?v=3#x") == "app.js");
  CHECK(safe_relative_path("/a//b/") == "a/b/index.html");
  CHECK(safe_relative_path("/a%20b.txt") == "a b.txt");
  CHECK_FALSE(safe_relative_path("/../secret.txt"));
  CHECK_FALSE(safe_relative_path("/a/../../secret.txt"));
  CHECK_FALSE(safe_relative_path("/%2e%2e/secret.txt"));
  CHECK_FALSE(safe_relative_path("/a/%2E%2E%2fsecret.txt"));
  CHECK_FALSE(safe_relative_path("/.env"));
  CHECK_FALSE(safe_relative_path("/.git/config"));
  CHECK_FALSE(safe_relative_path("/a%00.html"));
  CHECK_FALSE(safe_relative_path("/a%zz"));
  CHECK_FALSE(safe_relative_path("/a%2"));
  CHECK_FALSE(safe_relative_path("/..\\secret.txt"));
  CHECK_FALSE(safe_relative_path("relative.html"));
  CHECK_FALSE(safe_relative_path(""));
}

TEST_CASE("mime types by extension, case-insensitive, octet-stream otherwise") {
  CHECK(mime_type("index.html") == "text/html; charset=utf-8");
  CHECK(mime_type("a/b/app.JS") == "text/javascript; charset=utf-8");
  CHECK(mime_type("style.css") == "text/css; charset=utf-8");
  CHECK(mime_type("x.wasm") == "application/wasm");
  CHECK(mime_type("x.svg") == "image/svg+xml");
  CHECK(mime_type("font.woff2") == "font/woff2");
  CHECK(mime_type("data.json") == "application/json");
  CHECK(mime_type("README") == "application/octet-stream");
  CHECK(mime_type("dir.d/README") == "application/octet-stream");
  CHECK(mime_type("x.exe") == "application/octet-stream");
}

TEST_CASE("serves files with their type and length; HEAD has no body") {
  Site site;
  StaticFiles files(site.root.string());

  auto index = files.serve("GET", "/");
  REQUIRE(index);
  CHECK(index->status == 200);
  CHECK(index->body == "<h1>hi</h1>");
  CHECK(header(*index, "Content-Type") == "text/html; charset=utf-8");
  CHECK(header(*index, "Content-Length") == "11");
  CHECK(header(*index, "X-Content-Type-Options") == "nosniff");

  auto logo = files.serve("GET", "/img/logo.PNG");
  REQUIRE(logo);
  CHECK(logo->body == std::string("\x89PNG\0\x01", 6));
  CHECK(header(*logo, "Content-Type") == "image/png");

  auto head = files.serve("HEAD", "/app.js");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  CHECK(header(*head, "Content-Length") == "14");

  auto docs = files.serve("GET", "/docs");
  REQUIRE(docs);
  CHECK(docs->body == "docs");
  auto docs_slash = files.serve("GET", "/docs/");
  REQUIRE(docs_slash);
  CHECK(docs_slash->body == "docs");

  auto post = files.serve("POST", "/app.js");
  REQUIRE(post);
  CHECK(post->status == 405);
}

TEST_CASE("nothing outside the root, no dotfiles, no listings, no missing files") {
  Site site;
  StaticFiles files(site.root.string());
  CHECK_FALSE(files.serve("GET", "/../secret.txt"));
  CHECK_FALSE(files.serve("GET", "/%2e%2e/secret.txt"));
  CHECK_FALSE(files.serve("GET", "/.env"));
  CHECK_FALSE(files.serve("GET", "/empty/"));
  CHECK_FALSE(files.serve("GET", "/empty"));
  CHECK_FALSE(files.serve("GET", "/missing.html"));
  CHECK_FALSE(files.serve("GET", "/img"));
}

TEST_CASE("symlinks leading out of the root are refused by the kernel") {
  Site site;
  // Proof that the files exist and are readable without the guard: the links resolve.
  fs::create_symlink(site.base / "secret.txt", site.root / "abs-link.txt");
  fs::create_symlink("../secret.txt", site.root / "rel-link.txt");
  fs::create_directory_symlink(site.base, site.root / "up");
  fs::create_symlink("app.js", site.root / "inside-link.js");
  REQUIRE(std::ifstream(site.root / "abs-link.txt").good());
  REQUIRE(std::ifstream(site.root / "up" / "secret.txt").good());

  StaticFiles files(site.root.string());
  CHECK_FALSE(files.serve("GET", "/abs-link.txt"));
  CHECK_FALSE(files.serve("GET", "/rel-link.txt"));
  CHECK_FALSE(files.serve("GET", "/up/secret.txt"));
  // A link that stays inside is fine.
  auto inside = files.serve("GET", "/inside-link.js");
  REQUIRE(inside);
  CHECK(inside->body == "console.log(1)");
}

TEST_CASE("files over the size limit are not served whole") {
  Site site;
  write_file(site.root / "big.bin", std::string(2000, 'x'));
  StaticFiles files(site.root.string(), 1000);
  auto big = files.serve("GET", "/big.bin");
  REQUIRE(big);
  CHECK(big->status == 500);
  CHECK(big->body.size() < 100);
}

TEST_CASE("a missing static_dir is a clear error") {
  try {
    StaticFiles files("/nonexistent/nospace-front-end");
    FAIL("no exception");
  } catch (const std::runtime_error &e) {
    CHECK(std::string(e.what()) ==
          "server.static_dir: cannot open directory '/nonexistent/nospace-front-end': No such "
          "file or directory");
  }
}

TEST_CASE("endpoints fall through to static files; ops paths win") {
  Site site;
  write_file(site.root / "healthz", "a file that must not shadow the probe");
  GatewayMetrics m;
  Endpoints ep(
      m,
      [] {
        return Readiness{true, "ready"};
      },
      StaticFiles(site.root.string()));
  auto health = ep.handle("GET", "/healthz");
  REQUIRE(health);
  CHECK(health->body == "ok\n");
  auto index = ep.handle("GET", "/index.html");
  REQUIRE(index);
  CHECK(index->body == "<h1>hi</h1>");
  CHECK_FALSE(ep.handle("GET", "/nothing-here"));
}
