// Socket.IO server benchmark, through the real npm socket.io-client, loopback only:
//   1. memory per connection: RSS of the server process with N idle WebSocket connections
//      minus its RSS before them, divided by N;
//   2. round-trip time: one client, sequential "message-with-ack" calls (small events);
//   3. messages per second: several clients keep a window of "message" events in flight and
//      count the "message-back" replies.
// Also, for the breakdown, the memory of our Engine.IO layer alone (--engineio-echo, the
// engine.io-client), so the Socket.IO layer's share is the difference, and of websocketpp
// alone (websocketpp-floor-server: the gateway's websocketpp configuration accepting plain
// WebSocket connections and doing nothing else, opened with the `ws` package), the floor the
// mandated library imposes.
// The same run measures our socketio-conformance-server and the npm socket.io server
// (echo-server.mjs), both with socket.io's default heartbeat and connectTimeout. Usage (bench/socketio/run.sh):
//   node bench.mjs SERVER_BINARY [connections [FLOOR_SERVER_BINARY]]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Socket as EngineSocket } from 'engine.io-client';
import { io } from 'socket.io-client';
// Not a direct dependency: the WebSocket implementation engine.io-client itself uses.
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const ourBinary = process.argv[2];
const connections = Number(process.argv[3] || 10000);
const floorBinary = process.argv[4];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)[1]);
}

function start(command, args) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const waiters = [];
  child.stdout.on('data', (chunk) => {
    out += chunk;
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = (re) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${command}: no ${re}`)), 10000);
      const check = () => {
        const m = re.exec(out);
        if (m) {
          clearTimeout(timer);
          out = out.slice(m.index + m[0].length);
          resolve(m);
        } else waiters.push(check);
      };
      check();
    });
  return { child, waitFor };
}

async function settle(server) {
  if (!server.gc) return sleep(2000);
  server.child.stdin.write('gc\n');
  await server.waitFor(/gc done\n/);
  await sleep(1000);
  server.child.stdin.write('gc\n');
  await server.waitFor(/gc done\n/);
}

const log = (...args) => console.error(new Date().toISOString().slice(11, 19), ...args);

function connect(url) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
    const fail = (why) => {
      clearTimeout(timer);
      socket.close();
      reject(new Error(String(why)));
    };
    const timer = setTimeout(() => fail('connect timeout'), 30000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('disconnect', fail);
      resolve(socket);
    });
    socket.once('connect_error', fail);
    socket.once('disconnect', fail);
  });
}

// Opens n connections, `batch` at a time; a failed attempt is retried (and counted).
async function openMany(url, n, batch = 200) {
  const sockets = [];
  let failures = 0;
  while (sockets.length < n) {
    const count = Math.min(batch, n - sockets.length);
    const results = await Promise.allSettled(Array.from({ length: count }, () => connect(url)));
    for (const r of results) {
      if (r.status === 'fulfilled') sockets.push(r.value);
      else if (++failures > 100) throw new Error(`too many failed connections: ${r.reason}`);
    }
    if (sockets.length % 2000 < batch && n > 1000) log(`  ${sockets.length}/${n} connected`);
  }
  if (failures) log(`  ${failures} connection attempt(s) failed and were retried`);
  return sockets;
}

async function roundTrips(url, count) {
  const socket = await connect(url);
  const times = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => socket.emit('message-with-ack', 'ping', i, resolve));
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  socket.close();
  times.sort((a, b) => a - b);
  return { median_us: times[times.length >> 1], p99_us: times[Math.floor(times.length * 0.99)] };
}

async function throughput(url, clients, window, seconds) {
  const sockets = await openMany(url, clients);
  let replies = 0;
  let running = true;
  for (const socket of sockets) {
    socket.on('message-back', () => {
      replies++;
      if (running) socket.emit('message', 'hello', 42);
    });
  }
  await sleep(200);
  const t0 = process.hrtime.bigint();
  const before = replies;
  for (const socket of sockets) for (let i = 0; i < window; i++) socket.emit('message', 'hello', 42);
  await sleep(seconds * 1000);
  const done = replies - before;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  running = false;
  await sleep(300);
  for (const socket of sockets) socket.close();
  return Math.round(done / elapsed);
}

async function launch(name, command, args, gc) {
  const server = { name, ...start(command, args), gc };
  const [, port] = await server.waitFor(/listening (\d+)\n/);
  server.url = `http://127.0.0.1:${port}`;
  return server;
}

async function stop(server) {
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
}

// RSS per idle connection; the server runs alone meanwhile.
async function memory(server) {
  log(`${server.name}: warm-up`);
  // Warm up (JIT, allocator pools) before the baseline.
  await roundTrips(server.url, 500);
  (await openMany(server.url, 200)).forEach((s) => s.close());
  await settle(server);
  const before = rssKb(server.child.pid);
  log(`${server.name}: opening ${connections} idle connections`);
  const idle = await openMany(server.url, connections);
  await settle(server);
  const after = rssKb(server.child.pid);
  for (const s of idle) s.close();
  await sleep(1000);
  return { before, after, bytes: Math.round(((after - before) * 1024) / connections) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// Round trips and throughput, the two servers taking turns (three rounds each), so that a
// change of load on the machine during the run hits both alike; medians are reported.
async function speed(servers, rounds = 3) {
  const out = servers.map(() => ({ rtt: [], p99: [], rate: [] }));
  for (let round = 1; round <= rounds; round++) {
    for (const [i, server] of servers.entries()) {
      log(`${server.name}: round trips and throughput, round ${round}/${rounds}`);
      const rtt = await roundTrips(server.url, 1000);
      out[i].rtt.push(rtt.median_us);
      out[i].p99.push(rtt.p99_us);
      out[i].rate.push(await throughput(server.url, 20, 50, 3));
    }
  }
  return out.map((o) => ({
    rtt_median_us: Math.round(median(o.rtt)),
    rtt_p99_us: Math.round(median(o.p99)),
    messages_per_second: median(o.rate),
    messages_per_second_rounds: o.rate,
  }));
}

// Memory per idle connection of a server that only needs its connections opened: `open(port)`
// resolves with an open client connection. Same warm-up, batches and settling as memory().
async function idleMemory(name, command, args, open) {
  const server = start(command, args);
  const [, port] = await server.waitFor(/listening (\d+)\n/);
  for (let i = 0; i < 200; i++) (await open(port)).close();
  await sleep(1000);
  const before = rssKb(server.child.pid);
  log(`${name}: opening ${connections} idle connections`);
  const sockets = [];
  for (let i = 0; i < connections; i += 200)
    sockets.push(
      ...(await Promise.all(Array.from({ length: Math.min(200, connections - i) }, () => open(port))))
    );
  await sleep(2000);
  const after = rssKb(server.child.pid);
  for (const s of sockets) s.close();
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
  await sleep(1000);
  return Math.round(((after - before) * 1024) / connections);
}

// Our Engine.IO layer alone (transport + Engine.IO session), through engine.io-client.
const engineOnly = (binary) =>
  idleMemory('engine.io layer alone', binary,
    ['--port', '0', '--engineio-echo', '--ping-interval', '25000', '--ping-timeout', '20000'],
    (port) =>
      new Promise((resolve, reject) => {
        const s = new EngineSocket(`ws://127.0.0.1:${port}`, { transports: ['websocket'] });
        s.once('open', () => resolve(s));
        s.once('error', reject);
      }));

// websocketpp alone, as the gateway configures it, through a plain WebSocket client.
const websocketppOnly = (binary) =>
  idleMemory('websocketpp alone', binary, ['--port', '0'], (port) =>
    new Promise((resolve, reject) => {
      const s = new WebSocket(`ws://127.0.0.1:${port}/`);
      s.once('open', () => resolve(s));
      s.once('error', reject);
    }));

const socketioVersion = JSON.parse(
  readFileSync(path.join(here, '../node_modules/socket.io/package.json'))
).version;
const launchOurs = () =>
  launch('nospace socketio-conformance-server', ourBinary,
    ['--port', '0', '--ping-interval', '25000', '--ping-timeout', '20000',
     '--connect-timeout', '45000'], false);
const launchTheirs = () =>
  launch(`npm socket.io ${socketioVersion}`, process.execPath,
    ['--expose-gc', path.join(here, 'echo-server.mjs'), '0'], true);

const servers = [await launchOurs()];
const ourMemory = await memory(servers[0]);
await stop(servers[0]);
servers[1] = await launchTheirs();
const theirMemory = await memory(servers[1]);
servers[0] = await launchOurs();
const speeds = await speed(servers);
await Promise.all(servers.map(stop));
const results = servers.map((server, i) => {
  const mem = [ourMemory, theirMemory][i];
  return {
    server: server.name,
    connections,
    rss_before_kb: mem.before,
    rss_after_kb: mem.after,
    bytes_per_connection: mem.bytes,
    ...speeds[i],
  };
});
const engineBytes = await engineOnly(ourBinary);
const floorBytes = floorBinary ? await websocketppOnly(floorBinary) : undefined;
for (const r of results) console.log(JSON.stringify(r));
const [ours, theirs] = results;
const parts =
  floorBytes === undefined
    ? [`transport + Engine.IO ${engineBytes} B`]
    : [
        `websocketpp alone ${floorBytes} B (${(floorBytes / theirs.bytes_per_connection).toFixed(2)}x ` +
          `socket.io's whole connection)`,
        `our transport + Engine.IO above it ${engineBytes - floorBytes} B`,
      ];
parts.push(`Socket.IO layer ${ours.bytes_per_connection - engineBytes} B`);
console.log(`breakdown of ours per connection: ${parts.join(', ')}`);
console.log(
  `memory per connection: ${ours.bytes_per_connection} B vs ${theirs.bytes_per_connection} B ` +
    `(${(ours.bytes_per_connection / theirs.bytes_per_connection).toFixed(2)}x); ` +
    `messages/s: ${ours.messages_per_second} vs ${theirs.messages_per_second} ` +
    `(${(ours.messages_per_second / theirs.messages_per_second).toFixed(2)}x); ` +
    `RTT median: ${ours.rtt_median_us} us vs ${theirs.rtt_median_us} us`
);
process.exit(0);
