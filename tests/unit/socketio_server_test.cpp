// The Socket.IO server in-process over real Engine.IO long-polling, driven by raw HTTP
// requests from the test thread: what only the server side can observe (the auth it got,
// handler arguments, an Ack sending once, acks from the client, disconnect reasons, the
// protocol error report, connectTimeout) and, under ASan, that clients and sockets are freed.
#include "gateway/engineio/server.hpp"
#include "gateway/socketio/server.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <future>
#include <optional>
#include <string>
#include <thread>

using namespace nospace;
using boost::asio::ip::tcp;
using json = nlohmann::json;

namespace {

struct Harness {
  boost::asio::io_context io;
  std::optional<engineio::Server> engine;
  std::optional<socketio::Server> sio;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{io.get_executor()};
  std::thread thread;
  // Written on the io thread, read through on_io().
  std::vector<std::shared_ptr<socketio::Socket>> sockets;
  std::vector<std::string> disconnects, protocol_errors;
  std::vector<json> events;

  template <typename F> auto on_io(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return result.get();
  }

  explicit Harness(std::chrono::milliseconds connect_timeout = std::chrono::milliseconds(5000)) {
    engineio::Config config;
    config.ping_interval = std::chrono::milliseconds(60000); // no pings during a test
    config.ping_timeout = std::chrono::milliseconds(60000);
    engine.emplace(io, config);
    sio.emplace(io, *engine, socketio::Config{connect_timeout});
    sio->on_protocol_error([this](const engineio::Socket &, const std::string &message) {
      protocol_errors.push_back(message);
    });
    sio->of("/").on_connection([this](std::shared_ptr<socketio::Socket> socket) {
      socketio::Socket *raw = socket.get();
      socket->on("ev", [this, raw](json args, socketio::Ack ack) {
        events.push_back(args);
        if (ack) {
          ack(json::array({"first"}));
          ack(json::array({"second"})); // ignored: an ack is sent once
        }
        if (args.size() == 1 && args[0] == "leave")
          raw->disconnect();
      });
      socket->on_disconnect([this](const std::string &reason) { disconnects.push_back(reason); });
      sockets.push_back(std::move(socket));
    });
    sio->of("/guarded").use([](const socketio::Socket &socket) -> std::optional<std::string> {
      if (socket.auth().value("token", "") == "ok")
        return std::nullopt;
      return "no";
    });
    engine->listen("127.0.0.1", 0);
    thread = std::thread([this] { io.run(); });
  }
  ~Harness() {
    on_io([this] {
      sockets.clear();
      engine->close_all();
      sio.reset();
      engine.reset();
    });
    guard.reset();
    thread.join();
  }

  // One HTTP request on its own connection; returns the body.
  std::string http(const std::string &method, const std::string &target,
                   const std::string &body = {}) {
    const std::uint16_t port = on_io([this] { return engine->port(); });
    boost::asio::io_context client;
    tcp::socket sock(client);
    sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: x\r\n";
    if (method == "POST")
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    boost::asio::write(sock, boost::asio::buffer(req));
    std::string response;
    boost::system::error_code ec;
    boost::asio::read(sock, boost::asio::dynamic_buffer(response), ec);
    return response.substr(response.find("\r\n\r\n") + 4);
  }
  std::string open() {
    const std::string body = http("GET", "/socket.io/?EIO=4&transport=polling");
    REQUIRE(body.rfind("0{", 0) == 0);
    return json::parse(body.substr(1)).at("sid").get<std::string>();
  }
  std::string get(const std::string &sid) {
    return http("GET", "/socket.io/?EIO=4&transport=polling&sid=" + sid);
  }
  void post(const std::string &sid, const std::string &payload) {
    REQUIRE(http("POST", "/socket.io/?EIO=4&transport=polling&sid=" + sid, payload) == "ok");
  }
  // Waits (up to 2 s) until `done` holds on the io thread.
  template <typename F> bool eventually(F done) {
    for (int i = 0; i < 200; ++i) {
      if (on_io(done))
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

} // namespace

TEST_CASE("CONNECT with auth, events with acks both ways, DISCONNECT from the client") {
  Harness h;
  const std::string sid = h.open();
  h.post(sid, R"(40{"token":"t"})");
  const std::string connected = h.get(sid);
  REQUIRE(connected.rfind(R"(40{"sid":")", 0) == 0);
  CHECK(h.on_io([&] {
    return h.sockets.size() == 1 && h.sockets[0]->auth() == json{{"token", "t"}};
  }));

  // Client -> server event with an ack id: the handler sees the arguments, the ack goes once.
  h.post(sid, R"(4217["ev",1,{"k":true}])");
  CHECK(h.get(sid) == R"(4317["first"])");
  CHECK(h.on_io([&] { return h.events == std::vector<json>{json::array({1, {{"k", true}}})}; }));

  // Server -> client event with an ack; the client's ACK reaches the callback once.
  auto acked = std::make_shared<std::vector<json>>();
  h.on_io([&] {
    h.sockets[0]->emit_with_ack("q", json::array({"x"}),
                                [acked](json args) { acked->push_back(std::move(args)); });
  });
  CHECK(h.get(sid) == R"(420["q","x"])");
  h.post(sid, "430[7]\x1e"
              "430[8]\x1e"
              "4399[9]"); // a repeated and an unknown id are ignored
  CHECK(h.eventually([&] { return acked->size() == 1; }));
  CHECK(h.on_io([&] { return *acked == std::vector<json>{json::array({7})}; }));

  // Backpressure: what the server emits is unsent until the next GET takes it; then the
  // socket's on_drain runs.
  auto drains = std::make_shared<int>(0);
  const std::size_t buffered = h.on_io([&] {
    h.sockets[0]->on_drain([drains] { ++*drains; });
    h.sockets[0]->emit("big", json::array({std::string(1000, 'x')}));
    return h.sockets[0]->buffered_amount();
  });
  CHECK(buffered >= 1000);
  CHECK(h.get(sid).size() > 1000);
  CHECK(h.eventually([&] { return *drains == 1 && h.sockets[0]->buffered_amount() == 0; }));

  h.post(sid, "41");
  CHECK(h.eventually([&] { return h.disconnects.size() == 1; }));
  CHECK(h.on_io([&] {
    return h.disconnects[0] == "client namespace disconnect" && !h.sockets[0]->connected() &&
           h.sio->of("/").sockets().empty();
  }));
  // Emitting on a disconnected socket does nothing; the connection itself stays open.
  h.on_io([&] { h.sockets[0]->emit("late", json::array()); });
  h.post(sid, "40");
  CHECK(h.get(sid).rfind(R"(40{"sid":")", 0) == 0);
}

TEST_CASE("a server-side disconnect sends DISCONNECT; an ack after it is not sent") {
  Harness h;
  const std::string sid = h.open();
  h.post(sid, "40");
  REQUIRE(h.get(sid).rfind("40{", 0) == 0);
  h.post(sid, R"(425["ev","leave"])");
  // The handler acks first (sent), then leaves: DISCONNECT follows; the second ack is dropped.
  CHECK(h.get(sid) == "435[\"first\"]\x1e"
                      "41");
  CHECK(h.on_io(
      [&] { return h.disconnects == std::vector<std::string>{"server namespace disconnect"}; }));
}

TEST_CASE("a malformed packet closes the connection with reason parse error") {
  Harness h;
  const std::string sid = h.open();
  h.post(sid, "40");
  REQUIRE(h.get(sid).rfind("40{", 0) == 0);
  std::weak_ptr<socketio::Socket> weak = h.on_io([&] { return std::weak_ptr(h.sockets[0]); });
  h.post(sid, R"(42["ev",)");
  CHECK(h.eventually([&] { return h.disconnects.size() == 1; }));
  CHECK(h.on_io([&] {
    return h.disconnects[0] == "parse error" && h.protocol_errors.size() == 1 &&
           h.protocol_errors[0].rfind("bad JSON", 0) == 0 && h.sio->client_count() == 0;
  }));
  h.on_io([&] { h.sockets.clear(); });
  CHECK(h.eventually([&] { return weak.expired(); }));
}

TEST_CASE("CONNECT_ERROR for an unknown namespace and for a refusing middleware") {
  Harness h;
  const std::string sid = h.open();
  h.post(sid, "40/nope,");
  CHECK(h.get(sid) == R"(44/nope,{"message":"Invalid namespace"})");
  h.post(sid, R"(40/guarded,{"token":"bad"})");
  CHECK(h.get(sid) == R"(44/guarded,{"message":"no"})");
  h.post(sid, R"(40/guarded,{"token":"ok"})");
  CHECK(h.get(sid).rfind(R"(40/guarded,{"sid":")", 0) == 0);
}

TEST_CASE("a later on() for an event replaces its handler; the other handlers stay") {
  Harness h;
  const std::string sid = h.open();
  h.post(sid, "40");
  REQUIRE(h.get(sid).rfind(R"(40{"sid":")", 0) == 0);
  h.on_io([&] {
    REQUIRE(h.sockets.size() == 1);
    // A CONNECT without data: auth() is an empty object (what socket.io's handshake.auth is).
    CHECK(h.sockets[0]->auth().is_object());
    CHECK(h.sockets[0]->auth().empty());
    h.sockets[0]->on("other", [&h](json args, socketio::Ack) {
      h.events.push_back(json::array({"other", args}));
    });
    h.sockets[0]->on("ev", [&h](json args, socketio::Ack) {
      h.events.push_back(json::array({"replaced", args}));
    });
  });
  h.post(sid, R"(42["ev",1])"
              "\x1e"
              R"(42["other",2])"
              "\x1e"
              R"(42["unknown",3])");
  CHECK(h.eventually([&] { return h.events.size() == 2; }));
  CHECK(h.on_io([&] {
    return h.events == std::vector<json>{json::array({"replaced", json::array({1})}),
                                         json::array({"other", json::array({2})})};
  }));
}

TEST_CASE("connectTimeout closes a connection that joined no namespace, only that one") {
  Harness h(std::chrono::milliseconds(150));
  const std::string idle = h.open();
  const std::string joined = h.open();
  h.post(joined, "40");
  REQUIRE(h.get(joined).rfind("40{", 0) == 0);
  CHECK(h.on_io([&] { return h.sio->client_count() == 2; }));
  CHECK(h.eventually([&] { return h.sio->client_count() == 1; }));
  const std::string after = h.get(idle); // the close packet, or the session is already gone
  CHECK((after == "1" || after.find("\"code\":1") != std::string::npos));
  h.post(joined, R"(42["ev","still"])");
  CHECK(h.eventually([&] { return h.events.size() == 1; }));
}
