// End-to-end tests of the nospace execution service: the real nospace-gateway (which starts
// the real nospace-sandbox launcher), the real npm socket.io-client, and the fixture
// interpreter tests/fixtures/fake-nospace20 (its script language is at the top of its
// source). Each gateway runs a private copy of the fixture, so "the process is gone" can be
// checked by looking for that copy in /proc.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { freePort } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.NOSPACE_BUILD_DIR || path.join(root, 'build');
const gatewayBin = path.join(buildDir, 'gateway/nospace-gateway');
const fakeBin = path.join(buildDir, 'tests/fixtures/fake-nospace20');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nospace-e2e-'));
fs.chmodSync(tmp, 0o755);
const interpreter = path.join(tmp, 'fake-nospace20-e2e');
fs.copyFileSync(fakeBin, interpreter);
fs.chmodSync(interpreter, 0o755);

const gateways = [];
async function startGateway({ policy = 'tests/policies/nospace-e2e.yaml', env = {} } = {}) {
  const port = await freePort();
  const child = spawn(gatewayBin, ['--policy', path.join(root, policy)], {
    env: { ...process.env, PORT: String(port), NOSPACE_BIN_PATH: interpreter, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const gw = { port, url: `http://127.0.0.1:${port}`, child, logs: [], stderr: '' };
  gateways.push(gw);
  child.stderr.on('data', (d) => (gw.stderr += d));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${gw.stderr}`)), 10000);
    let buf = '';
    child.on('exit', (code) => reject(new Error(`gateway exited ${code}: ${gw.stderr}`)));
    child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        gw.logs.push(line);
        if (line.event === 'listening') {
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
  return gw;
}

const clients = [];
function connect(gw, options = {}) {
  const socket = io(gw.url, { reconnection: false, forceNew: true, ...options });
  clients.push(socket);
  return socket;
}

// Records every nospace_* event a socket receives, by sessionId.
function recorder(socket) {
  const rec = { events: [] };
  for (const event of ['nospace_stdout', 'nospace_stderr', 'nospace_execution_status'])
    socket.on(event, (p) => rec.events.push({ event, p, at: performance.now() }));
  rec.of = (id) => rec.events.filter((e) => e.p.sessionId === id);
  rec.statuses = (id) => rec.of(id).filter((e) => e.event === 'nospace_execution_status').map((e) => e.p);
  rec.text = (id, event) => rec.of(id).filter((e) => e.event === event).map((e) => e.p.data).join('');
  rec.chunks = (id, event) => rec.of(id).filter((e) => e.event === event);
  rec.isFinal = (p) => ['finished', 'error', 'killed'].includes(p.status);
  rec.final = (id) => rec.statuses(id).find(rec.isFinal);
  rec.lastSession = () => {
    const s = rec.events.filter((e) => e.event === 'nospace_execution_status');
    return s.length ? s[s.length - 1].p.sessionId : undefined;
  };
  return rec;
}

async function until(cond, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = cond();
    if (v) return v;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// Emits a run (or compile) and waits for its final status; returns the session's events.
async function run(socket, rec, code, options = { language: 'standard' }, extra = {}, event = 'nospace_run') {
  const ack = await socket.timeout(10000).emitWithAck(event, { code, options, ...extra });
  const id = ack.sessionId ?? rec.lastSession();
  assert.ok(id, `no session: ${JSON.stringify(ack)}`);
  await until(() => rec.final(id), 30000, `final status of ${id}`);
  return { id, statuses: rec.statuses(id), stdout: rec.text(id, 'nospace_stdout'), stderr: rec.text(id, 'nospace_stderr') };
}

// Exactly one final status, and it is the session's last event.
function assertFlow(rec, id, first, final) {
  const statuses = rec.statuses(id).map((s) => s.status);
  assert.deepEqual(statuses, [first, final]);
  const events = rec.of(id);
  assert.equal(events[events.length - 1].event, 'nospace_execution_status');
  assert.equal(events[0].event, 'nospace_execution_status');
}

// Processes running our private copy of the interpreter (inside any sandbox) right now.
function interpreterProcesses() {
  let n = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith(interpreter + '\0')) ++n;
    } catch {}
  }
  return n;
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

function floodText(total) {
  let out = '';
  for (let n = 0; out.length < total; ++n) out += String(n).padStart(15, '0') + ' ' + 'x'.repeat(47) + '\n';
  return out.slice(0, total);
}

let gw;
before(async () => {
  gw = await startGateway();
});
after(async () => {
  for (const c of clients) c.close();
  for (const g of gateways) g.child.kill('SIGTERM');
  await sleep(200);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('batch run: stdinData then EOF, running, output, one final status with usage', async () => {
  const s = connect(gw);
  const rec = recorder(s);
  const r = await run(s, rec, 'print hello\ncat\nstdin_eof\neprint bye',
    { language: 'min', inputMode: 'batch', stepBudget: 5, maxTotalSteps: 9, direct: true }, { stdinData: 'one\ntwo' });
  assertFlow(rec, r.id, 'running', 'finished');
  assert.equal(r.stdout, 'hello\none\ntwoeof\n');
  assert.equal(r.stderr, 'bye\n');
  const final = rec.final(r.id);
  assert.equal(final.exitCode, 0);
  assert.equal(final.reason, 'exited');
  assert.ok(final.usage.wallMs >= 0 && 'peakMemoryBytes' in final.usage && 'cpuMs' in final.usage);
  // The command line comes from the options and the policy, never from the client.
  const a = await run(s, rec, 'argv', { language: 'ws', debug: true, ignoreDebug: true, stdExtensions: ['debug', 'alloc'] });
  const argv = a.stdout.split('\n');
  assert.equal(argv[0], interpreter);
  assert.deepEqual(argv.slice(1, 9), ['--std', 'ws', '--debug', '--ignore-debug', '--std-ext', 'debug', '--std-ext', 'alloc']);
  assert.equal(argv.length, 11); // + the program file + the empty string after the last newline
  // One JSON log line at the start and one at the end of each run, with reason and usage.
  await until(() => gw.logs.some((l) => l.event === 'run-end' && l.session === r.id), 3000, 'run-end log');
  const end = gw.logs.find((l) => l.event === 'run-end' && l.session === r.id);
  assert.equal(end.reason, 'exited');
  assert.ok('wallMs' in end.usage);
  assert.ok(gw.logs.some((l) => l.event === 'run-start' && l.session === r.id && l.language === 'min'));
  assert.ok(gw.logs.some((l) => l.event === 'connect' && l.socket));
});

test('interactive: prompt and answer loop, newline added when missing', async () => {
  const s = connect(gw, { transports: ['websocket'] });
  const rec = recorder(s);
  const ack = await s.emitWithAck('nospace_run', { code: 'prompt Name? \nprompt Age? \nprint bye', options: { language: 'standard', inputMode: 'interactive' } });
  const id = ack.sessionId;
  await until(() => rec.text(id, 'nospace_stdout') === 'Name? ', 5000, 'first prompt');
  s.emit('nospace_stdin', { sessionId: id, data: 'Ann' });
  await until(() => rec.text(id, 'nospace_stdout') === 'Name? got: Ann\nAge? ', 5000, 'second prompt');
  s.emit('nospace_stdin', { sessionId: id, data: '42\n' });
  await until(() => rec.final(id), 5000, 'final');
  assert.equal(rec.text(id, 'nospace_stdout'), 'Name? got: Ann\nAge? got: 42\nbye\n');
  assertFlow(rec, id, 'running', 'finished');
  // Input after the program exited: refused, no second final status.
  const late = await s.emitWithAck('nospace_stdin', { sessionId: id, data: 'late' });
  assert.match(late.error, /no longer running/);
  await sleep(50);
  assert.equal(rec.statuses(id).length, 2);
});

test('kill: status killed, the process is gone', async () => {
  const s = connect(gw);
  const rec = recorder(s);
  const { sessionId: id } = await s.emitWithAck('nospace_run', { code: 'print started\nsleep 60000', options: { language: 'standard' } });
  await until(() => rec.text(id, 'nospace_stdout') === 'started\n', 5000, 'output');
  assert.ok(interpreterProcesses() >= 1);
  s.emit('nospace_kill', { sessionId: id });
  await until(() => rec.final(id), 5000, 'killed');
  assertFlow(rec, id, 'running', 'killed');
  await until(() => gw.logs.some((l) => l.event === 'run-end' && l.session === id), 5000, 'run reaped');
  await until(() => interpreterProcesses() === 0, 3000, 'no interpreter left');
});

test('disconnect kills: the process is gone', async () => {
  const s = connect(gw);
  const rec = recorder(s);
  const { sessionId: id } = await s.emitWithAck('nospace_run', { code: 'sleep 60000', options: { language: 'standard' } });
  await until(() => rec.statuses(id).length === 1, 5000, 'running');
  await until(() => interpreterProcesses() === 1, 3000, 'process started');
  s.disconnect();
  await until(() => interpreterProcesses() === 0, 5000, 'process gone after disconnect');
  await until(() => gw.logs.some((l) => l.event === 'run-end' && l.session === id), 5000, 'run-end');
});

test('wall timeout: error with reason wall-timeout and a stderr line naming the limit', async () => {
  const g = await startGateway({ env: { NOSPACE_TIMEOUT: '1000' } });
  const s = connect(g);
  const rec = recorder(s);
  const r = await run(s, rec, 'print before\nsleep 60000');
  assertFlow(rec, r.id, 'running', 'error');
  assert.equal(rec.final(r.id).reason, 'wall-timeout');
  assert.equal(r.stdout, 'before\n');
  assert.match(r.stderr, /wall-clock limit of 1 s \(sandbox\.time\.wall_ms\)/);
});

test('output flood: chunks <= max_chunk, ~20 events/s per stream, every byte in order', async () => {
  const s = connect(gw, { transports: ['websocket'] });
  const rec = recorder(s);
  // A fast flood: 4 MB as fast as the program can write.
  const r = await run(s, rec, 'flood 4000000');
  assertFlow(rec, r.id, 'running', 'finished');
  assert.equal(r.stdout.length, 4000000);
  assert.ok(r.stdout === floodText(4000000), 'bytes complete and in order');
  for (const c of rec.chunks(r.id, 'nospace_stdout')) assert.ok(Buffer.byteLength(c.p.data) <= 65536);
  // A steady trickle for about 2 s: batching makes it ~20 events a second, not hundreds.
  const code = Array.from({ length: 200 }, () => 'flood 640\nsleep 10').join('\n');
  const t = await run(s, rec, code);
  const chunks = rec.chunks(t.id, 'nospace_stdout');
  const seconds = (chunks[chunks.length - 1].at - chunks[0].at) / 1000;
  const rate = (chunks.length - 1) / seconds;
  assert.ok(seconds > 1.5, `took ${seconds} s`);
  assert.ok(rate >= 8 && rate <= 26, `${chunks.length} events in ${seconds.toFixed(2)} s = ${rate.toFixed(1)}/s`);
  assert.equal(t.stdout.length, 200 * 640);
});

test('a multi-byte character split across writes arrives whole; invalid UTF-8 becomes U+FFFD', async () => {
  const s = connect(gw);
  const rec = recorder(s);
  const r = await run(s, rec, 'hex e381\nsleep 200\nhex 82\nhex 61ff62\nsleep 100\nhex f09f98');
  assert.equal(r.stdout, 'あa\uFFFDb\uFFFD');
  // The first chunk went out only once the character was complete: no replacement for half
  // of it, 200 ms after the first write.
  const first = rec.chunks(r.id, 'nospace_stdout')[0];
  assert.ok(first.p.data.startsWith('あ'), JSON.stringify(first.p.data));
});

test("stdin and kill with another socket's sessionId are refused; that session runs on", async () => {
  const a = connect(gw);
  const b = connect(gw);
  const ra = recorder(a);
  const rb = recorder(b);
  const { sessionId: id } = await a.emitWithAck('nospace_run', { code: 'prompt x\nprint done', options: { language: 'standard' } });
  await until(() => ra.text(id, 'nospace_stdout') === 'x', 5000, 'prompt');
  const s1 = await b.emitWithAck('nospace_stdin', { sessionId: id, data: 'evil' });
  const k1 = await b.emitWithAck('nospace_kill', { sessionId: id });
  assert.match(s1.error, /no session/);
  assert.match(k1.error, /no session/);
  await until(() => rb.statuses(id).length === 2, 3000, 'refusals');
  assert.deepEqual(rb.statuses(id).map((p) => p.status), ['error', 'error']);
  assert.match(rb.text(id, 'nospace_stderr'), /nospace_stdin: no session ".*" on this connection/);
  await sleep(100);
  assert.deepEqual(ra.statuses(id).map((p) => p.status), ['running']);
  a.emit('nospace_stdin', { sessionId: id, data: 'mine' });
  await until(() => ra.final(id), 5000, 'finished');
  assert.equal(ra.text(id, 'nospace_stdout'), 'xgot: mine\ndone\n');
  // Garbage of every shape: refused, the gateway survives.
  for (const bad of [null, 42, 'x', [], { sessionId: 7 }, { sessionId: id, data: { a: 1 } }]) {
    b.emit('nospace_stdin', bad);
    b.emit('nospace_kill', bad);
    b.emit('nospace_run', bad);
    b.emit('nospace_compile', bad);
  }
  const ok = await run(b, rb, 'print alive');
  assert.equal(ok.stdout, 'alive\n');
});

test('run while running: the previous session is killed, the new one runs', async () => {
  const s = connect(gw);
  const rec = recorder(s);
  const { sessionId: first } = await s.emitWithAck('nospace_run', { code: 'sleep 60000', options: { language: 'standard' } });
  await until(() => rec.statuses(first).length === 1, 5000, 'running');
  const r = await run(s, rec, 'print second');
  assertFlow(rec, first, 'running', 'killed');
  assertFlow(rec, r.id, 'running', 'finished');
  assert.equal(r.stdout, 'second\n');
  await until(() => interpreterProcesses() === 0, 5000, 'first process gone');
});

test('compile with each target; ex-ws and unknown ones refused with a clear error', async () => {
  const s = connect(gw);
  const rec = recorder(s);
  for (const target of ['ws', 'mnemonic', 'json']) {
    const r = await run(s, rec, 'print body', { language: 'ws', target, stdExtensions: ['alloc'], optPasses: ['x'] }, {}, 'nospace_compile');
    assertFlow(rec, r.id, 'compiling', 'finished');
    assert.equal(r.stdout, `compiled ${target} ws\nbody\n`);
  }
  for (const [target, message] of [['ex-ws', /"ex-ws" is not supported by this server/], ['x86', /unknown target "x86"/]]) {
    const ack = await s.emitWithAck('nospace_compile', { code: 'x', options: { language: 'ws', target } });
    assert.match(ack.error, message);
    const id = await until(() => rec.events.find((e) => e.event === 'nospace_stderr' && message.test(e.p.data))?.p.sessionId, 2000);
    assert.deepEqual(rec.statuses(id).map((p) => p.status), ['error']);
  }
  const ack = await s.emitWithAck('nospace_run', { code: 'x', options: { language: 'cobol' } });
  assert.equal(ack.error, 'nospace_run: options.language: unknown language "cobol" (allowed: standard, min, ws)');
});

test('missing interpreter: error with a stderr line naming the path to set', async () => {
  const g = await startGateway({ env: { NOSPACE_BIN_PATH: '/nonexistent/nospace20' } });
  const s = connect(g);
  const rec = recorder(s);
  const r = await run(s, rec, 'print x');
  assert.equal(rec.final(r.id).status, 'error');
  assert.match(r.stderr, /\/nonexistent\/nospace20/);
  assert.match(r.stderr, /interpreter\.path/);
  assert.match(r.stderr, /NOSPACE_BIN_PATH/);
});

test('limits: concurrent sandboxes in total, sessions, connections and runs per minute per IP', async () => {
  // Total: NOSPACE_MAX_PROCESSES=2 (the original's variable, now enforced).
  const g = await startGateway({ env: { NOSPACE_MAX_PROCESSES: '2' } });
  const socks = [connect(g), connect(g), connect(g)];
  const recs = socks.map(recorder);
  await socks[0].emitWithAck('nospace_run', { code: 'sleep 60000', options: { language: 'standard' } });
  await socks[1].emitWithAck('nospace_run', { code: 'sleep 60000', options: { language: 'standard' } });
  const refused = await socks[2].emitWithAck('nospace_run', { code: 'print x', options: { language: 'standard' } });
  assert.match(refused.error, /limit of 2 programs at once \(limits\.max_concurrent_runs\)/);
  await until(() => recs[2].events.some((e) => e.event === 'nospace_execution_status' && e.p.status === 'error'), 2000);
  socks[0].disconnect();
  await until(() => g.logs.filter((l) => l.event === 'run-end').length === 1, 5000, 'first run reaped');
  const r = await run(socks[2], recs[2], 'print now');
  assert.equal(r.stdout, 'now\n');

  // Per IP (tests/policies/nospace-limits.yaml): 3 connections, 1 session, 4 runs a minute.
  const l = await startGateway({ policy: 'tests/policies/nospace-limits.yaml' });
  const c = [connect(l), connect(l), connect(l)];
  await Promise.all(c.map((x) => until(() => x.connected, 5000, 'connected')));
  const fourth = connect(l);
  const [err] = await new Promise((resolve) => fourth.on('connect_error', (...a) => resolve(a)));
  assert.equal(err.message, 'too many connections from 127.0.0.1: the limit is 3 (limits.max_connections_per_ip)');
  const lr = c.map(recorder);
  await c[0].emitWithAck('nospace_run', { code: 'sleep 60000', options: { language: 'standard' } });
  const second = await c[1].emitWithAck('nospace_run', { code: 'print x', options: { language: 'standard' } });
  assert.match(second.error, /the limit is 1 at once \(limits\.max_runs_per_ip\)/);
  // Replacing one's own run is allowed (runs 2, 3 and 4 of this minute); the fifth is not.
  await run(c[0], lr[0], 'print a');
  await run(c[0], lr[0], 'print b');
  await run(c[0], lr[0], 'print c');
  const fifth = await c[0].emitWithAck('nospace_run', { code: 'print d', options: { language: 'standard' } });
  assert.match(fifth.error, /the limit is 4 per minute \(limits\.runs_per_minute_per_ip\); try again in \d+ s/);
});

test('behind a trusted proxy the per-IP limits count the X-Forwarded-For client, not the proxy', async () => {
  // tests/policies/nospace-proxy.yaml: 127.0.0.1 is a trusted proxy; one connection per IP.
  const p = await startGateway({ policy: 'tests/policies/nospace-proxy.yaml' });
  const via = (client) => connect(p, { transports: ['websocket'], extraHeaders: { 'X-Forwarded-For': client } });
  const refusal = (s) => new Promise((resolve) => s.on('connect_error', (e) => resolve(e.message)));
  const a = via('203.0.113.1'), b = via('198.51.100.7, 203.0.113.2');
  await Promise.all([a, b].map((x) => until(() => x.connected, 5000, 'connected')));
  // A second connection of the same client is refused, naming the client.
  assert.equal(await refusal(via('203.0.113.1')),
    'too many connections from 203.0.113.1: the limit is 1 (limits.max_connections_per_ip)');
  assert.ok(p.logs.some((l) => l.event === 'connect' && l.ip === '203.0.113.2'));
  // Without a trusted proxy (the main gateway trusts none) the header changes nothing.
  const g = await startGateway({ policy: 'tests/policies/nospace-limits.yaml' });
  const d = ['192.0.2.1', '192.0.2.2', '192.0.2.3'].map((ip) =>
    connect(g, { transports: ['websocket'], extraHeaders: { 'X-Forwarded-For': ip } }));
  await Promise.all(d.map((x) => until(() => x.connected, 5000, 'connected')));
  assert.equal(await refusal(connect(g, { transports: ['websocket'], extraHeaders: { 'X-Forwarded-For': '192.0.2.4' } })),
    'too many connections from 127.0.0.1: the limit is 3 (limits.max_connections_per_ip)');
});

test('a client that stops reading while the program floods: gateway memory stays flat; then the output limit', async () => {
  const s = connect(gw, { transports: ['websocket'] });
  const rec = recorder(s);
  await until(() => s.connected, 5000, 'connected');
  const before = rssKiB(gw.child.pid);
  const { sessionId: id } = await s.emitWithAck('nospace_run', { code: 'flood 2000000000', options: { language: 'standard' } });
  await until(() => rec.text(id, 'nospace_stdout').length > 0, 5000, 'first output');
  // Stop reading: the TCP connection's receive side is paused.
  const tcp = s.io.engine.transport.ws._socket;
  tcp.pause();
  const samples = [];
  for (let i = 0; i < 6; ++i) {
    await sleep(500);
    samples.push(rssKiB(gw.child.pid));
  }
  const growth = Math.max(...samples) - before;
  assert.ok(growth < 40 * 1024, `gateway RSS grew by ${growth} KiB (samples ${samples})`);
  assert.ok(samples[5] - samples[2] < 4 * 1024, `still growing: ${samples}`);
  assert.equal(rec.final(id), undefined);
  // Reading again: the program continues until the per-run output limit (8 MiB by default)
  // stops it: exactly that many bytes, a stderr notice, status error with reason output-limit.
  tcp.resume();
  await until(() => rec.final(id), 20000, 'output limit');
  assertFlow(rec, id, 'running', 'error');
  assert.equal(rec.final(id).reason, 'output-limit');
  assert.equal(rec.text(id, 'nospace_stdout').length, 8 << 20);
  assert.equal(rec.text(id, 'nospace_stderr'), 'output limit of 8 MiB (sandbox.output_limit) reached: the program was stopped\n');
});

test('200 runs from 20 clients at once: every byte and status accounted for', async () => {
  const socks = Array.from({ length: 20 }, (_, i) => connect(gw, i % 2 ? { transports: ['websocket'] } : {}));
  const recs = socks.map(recorder);
  const results = await Promise.all(socks.map(async (s, i) => {
    const out = [];
    for (let j = 0; j < 10; ++j) {
      const r = await run(s, recs[i], `print client ${i} run ${j}\nflood 20000\neprint err ${i} ${j}`);
      out.push({ r, i, j });
    }
    return out;
  }));
  let count = 0;
  const expected = floodText(20000);
  for (const { r, i, j } of results.flat()) {
    ++count;
    assert.equal(r.stdout, `client ${i} run ${j}\n` + expected);
    assert.equal(r.stderr, `err ${i} ${j}\n`);
    assert.deepEqual(r.statuses.map((p) => p.status), ['running', 'finished']);
  }
  assert.equal(count, 200);
});
