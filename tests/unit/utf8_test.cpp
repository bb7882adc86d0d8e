// The incremental UTF-8 sanitiser: split characters, invalid bytes, chunk boundaries.
#include "gateway/nospace/utf8.hpp"

#include <catch2/catch.hpp>

#include <string>

using nospace::gateway::utf8_boundary;
using nospace::gateway::Utf8Decoder;

namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string decode_in_pieces(const std::string &bytes, std::size_t piece) {
  Utf8Decoder d;
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += piece)
    d.feed(std::string_view(bytes).substr(i, piece), out);
  d.finish(out);
  return out;
}

} // namespace

TEST_CASE("valid text passes through unchanged, whatever the read boundaries") {
  const std::string text = "ascii \xC3\xA9 \xE3\x81\x82 \xF0\x9F\x98\x80 end"; // é あ 😀
  for (std::size_t piece = 1; piece <= text.size(); ++piece)
    CHECK(decode_in_pieces(text, piece) == text);
}

TEST_CASE("a character split across reads is held back until complete") {
  Utf8Decoder d;
  std::string out;
  d.feed("a\xE3\x81", out); // "a" + the first two bytes of あ
  CHECK(out == "a");
  CHECK(d.held() == 2);
  d.feed("\x82z", out);
  CHECK(out == "a\xE3\x81\x82z");
  CHECK(d.held() == 0);
}

TEST_CASE("invalid bytes become U+FFFD, one per maximal invalid subpart") {
  CHECK(decode_in_pieces("a\xFF"
                         "b",
                         100) == "a" + kFffd + "b");
  CHECK(decode_in_pieces("\x80\x80", 100) == kFffd + kFffd);             // stray continuations
  CHECK(decode_in_pieces("\xC0\xAF", 100) == kFffd + kFffd);             // overlong lead
  CHECK(decode_in_pieces("\xE0\x80\x80", 100) == kFffd + kFffd + kFffd); // overlong 3-byte
  CHECK(decode_in_pieces("\xED\xA0\x80", 100) == kFffd + kFffd + kFffd); // surrogate
  CHECK(decode_in_pieces("\xF4\x90\x80\x80", 100) == kFffd + kFffd + kFffd + kFffd); // > U+10FFFF
  CHECK(decode_in_pieces("\xE3\x81z", 100) == kFffd + "z"); // truncated, then ASCII
  CHECK(decode_in_pieces("\xF0\x9F\x98", 100) == kFffd);    // truncated at the very end
  CHECK(decode_in_pieces("\xE3\x81\xE3\x81\x82", 100) == kFffd + "\xE3\x81\x82");
}

TEST_CASE("invalid bytes split across reads give the same result as in one read") {
  const std::string bytes = "x\xE3\x81z\xF0\x9F\x98\xFF\xC3\xA9\xED\xA0\x80y\xE3";
  const std::string whole = decode_in_pieces(bytes, bytes.size());
  for (std::size_t piece = 1; piece < bytes.size(); ++piece)
    CHECK(decode_in_pieces(bytes, piece) == whole);
}

TEST_CASE("utf8_boundary never cuts a character") {
  const std::string text = "ab\xE3\x81\x82"
                           "cd"; // a b あ c d
  CHECK(utf8_boundary(text, 100) == text.size());
  CHECK(utf8_boundary(text, 2) == 2);
  CHECK(utf8_boundary(text, 3) == 2);
  CHECK(utf8_boundary(text, 4) == 2);
  CHECK(utf8_boundary(text, 5) == 5);
}
