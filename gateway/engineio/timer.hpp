#pragma once
// The timer type of the per-connection timers (heartbeat, upgrade, Socket.IO connectTimeout).
// asio's steady_timer carries a type-erased any_io_executor (48 bytes) in the timer and again
// in each pending wait; everything here runs on one io_context, so its plain executor
// (8 bytes) is enough: about 70 bytes less per idle connection.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

namespace nospace::engineio {

using Timer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                boost::asio::wait_traits<std::chrono::steady_clock>,
                                                boost::asio::io_context::executor_type>;

} // namespace nospace::engineio
