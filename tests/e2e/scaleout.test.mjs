// Scale-out (issue 6): two nospace gateways behind Debian's nginx running containers/nginx.conf (only
// its listen port, server lines and paths rewritten for loopback). Clients from different
// loopback addresses connect through nginx over long-polling, WebSocket and polling+upgrade;
// nginx's access log (the config's own `nospace` format: upstream and sid per request) shows
// that every request of a session reached one gateway. Then one gateway stops and its clients
// reconnect, through the same nginx, to the other one, while the other's clients stay put.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { freePort } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.NOSPACE_BUILD_DIR || '/work/main/build';
const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The gateways under test: nospace-gateway (each with its own launcher) and the fixture
// interpreter; a round trip is a real sandboxed run printing what the client sent.
const gatewayBin = path.join(buildDir, 'gateway/nospace-gateway');
const fakeBin = path.join(buildDir, 'tests/fixtures/fake-nospace20');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nospace-scaleout-'));
fs.chmodSync(tmp, 0o755);
const interpreter = path.join(tmp, 'fake-nospace20-scaleout');

async function startGateway() {
  const port = await freePort();
  const child = spawn(gatewayBin, ['--policy', path.join(root, 'tests/policies/nospace-e2e.yaml')], {
    env: { ...process.env, PORT: String(port), NOSPACE_BIN_PATH: interpreter },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the gateway did not start')), 15000);
    let out = '';
    child.on('error', reject);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (!out.includes('"event":"listening"')) return;
      clearTimeout(timer);
      resolve();
    });
  });
  return { port, child, exited, upstream: `127.0.0.1:${port}` };
}

// containers/nginx.conf, made to run on loopback in a temporary prefix.
function nginxConfig(port, upstreams) {
  let conf = fs.readFileSync(path.join(root, 'containers/nginx.conf'), 'utf8');
  const servers = [...conf.matchAll(/^\s*server 127\.0\.0\.1:\d+ (.*);$/gm)];
  assert.equal(servers.length, 2, 'containers/nginx.conf: expected two example server lines');
  const options = servers[0][1];
  conf = conf.replace(servers[0][0], upstreams.map((u) => `    server ${u} ${options};`).join('\n'));
  conf = conf.replace(servers[1][0], '');
  assert.match(conf, /^\s*listen 80;$/m);
  conf = conf.replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${port};`);
  conf = conf.replace(/^worker_processes auto;$/m, 'worker_processes 1;');
  conf = conf.replace(/worker_connections \d+;/, 'worker_connections 1024;');
  return conf;
}

async function startNginx(upstreams) {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'nospace-nginx-'));
  fs.chmodSync(prefix, 0o755); // nginx's workers may run as another user
  fs.mkdirSync(path.join(prefix, 'logs'));
  const port = await freePort();
  const confPath = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(confPath, nginxConfig(port, upstreams));
  const child = spawn(nginxBin, ['-p', prefix + '/', '-c', confPath, '-g',
    `daemon off; pid ${prefix}/nginx.pid; error_log ${prefix}/logs/error.log;`],
  { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  // Ready when it answers.
  for (let i = 0; i < 100; ++i) {
    const ok = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/nginx-probe' }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
    });
    if (ok) break;
    await sleep(50);
  }
  return { port, prefix, child, exited, url: `http://127.0.0.1:${port}`,
    log: () => fs.readFileSync(path.join(prefix, 'logs/access.log'), 'utf8') };
}

// One access log line: address, request, status, upstream(s) tried, sid.
function parseLog(text) {
  const re = /^(\S+) \[[^\]]*\] "(\S+) (\S+)[^"]*" (\d+) \d+ upstream=(.*?) sid=(\S*) rt=/;
  return text.split('\n').filter(Boolean).map((line) => {
    const m = re.exec(line);
    assert.ok(m, `unexpected access log line: ${line}`);
    const tried = m[5].split(/\s*,\s*|\s+:\s+/).filter((u) => u && u !== '-');
    return { addr: m[1], method: m[2], target: m[3], status: Number(m[4]),
      upstream: tried[tried.length - 1], tried, sid: m[6] === '-' ? '' : m[6] };
  });
}

function once(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${ms} ms`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

// A round trip through the whole stack: a sandboxed run that prints what the client sent.
async function echo(socket, payload) {
  const text = JSON.stringify(payload);
  let out = '';
  let sessionId;
  const onOut = (p) => { if (p.sessionId === sessionId) out += p.data; };
  socket.on('nospace_stdout', onOut);
  const final = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no final status for ${text}`)), 10000);
    const onStatus = (p) => {
      if (p.status === 'running') sessionId = p.sessionId;
      if (p.sessionId !== sessionId || !['finished', 'error', 'killed'].includes(p.status)) return;
      clearTimeout(timer);
      socket.off('nospace_execution_status', onStatus);
      resolve(p);
    };
    socket.on('nospace_execution_status', onStatus);
  });
  socket.emit('nospace_run', { code: `print ${text}`, options: { language: 'standard', inputMode: 'batch' }, stdinData: '' });
  const status = await final;
  socket.off('nospace_stdout', onOut);
  assert.equal(status.status, 'finished', JSON.stringify(status));
  assert.equal(out, text + '\n');
}

const transports = {
  polling: { transports: ['polling'] },
  websocket: { transports: ['websocket'] },
  upgrade: { transports: ['polling', 'websocket'] },
};

let gateways = [];
let nginx;
const clients = []; // {socket, addr, kind, disconnects}
const skip = !nginxBin ? 'nginx is not installed (scripts/install-deps.sh installs nginx-light)'
  : !fs.existsSync(gatewayBin) ? `${gatewayBin} is not built`
    : !fs.existsSync(fakeBin) ? `${fakeBin} is not built` : false;

before(async () => {
  if (skip) return;
  fs.copyFileSync(fakeBin, interpreter);
  fs.chmodSync(interpreter, 0o755);
  gateways = [await startGateway(), await startGateway()];
  nginx = await startNginx(gateways.map((g) => g.upstream));
});

after(async () => {
  for (const c of clients) c.socket.close();
  for (const g of gateways) g.child.kill('SIGKILL');
  if (nginx) {
    nginx.child.kill('SIGQUIT');
    await Promise.race([nginx.exited, sleep(3000)]);
    nginx.child.kill('SIGKILL');
    fs.rmSync(nginx.prefix, { recursive: true, force: true });
  }
  await Promise.race([Promise.all(gateways.map((g) => g.exited)), sleep(3000)]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('every session stays on one gateway: polling, WebSocket and upgrade', { skip }, async () => {
  // 12 client addresses (127.0.0.10-21), 4 per transport set-up: with the consistent hash
  // both gateways get some (the chance they all land on one is 2 in 4096).
  let n = 10;
  for (const [kind, options] of Object.entries(transports)) {
    for (let i = 0; i < 4; ++i, ++n) {
      const addr = `127.0.0.${n}`;
      const socket = io(nginx.url, {
        ...options,
        forceNew: true,
        agent: new http.Agent({ localAddress: addr, keepAlive: false }),
        localAddress: addr,
        reconnectionDelay: 100,
        reconnectionDelayMax: 300,
      });
      const client = { socket, addr, kind, disconnects: 0 };
      socket.on('disconnect', () => ++client.disconnects);
      clients.push(client);
    }
  }
  await Promise.all(clients.map((c) => once(c.socket, 'connect')));
  // Upgrades finish; then several round trips each, so a polling session makes many requests.
  await Promise.all(clients.filter((c) => c.kind === 'upgrade').map(async (c) => {
    if (c.socket.io.engine.transport.name !== 'websocket') await once(c.socket.io.engine, 'upgrade');
  }));
  for (let round = 0; round < 3; ++round)
    await Promise.all(clients.map((c) => echo(c.socket, { round, from: c.addr })));
  for (const c of clients) {
    assert.equal(c.socket.io.engine.transport.name, c.kind === 'polling' ? 'polling' : 'websocket',
      `${c.addr} (${c.kind}) ended on the wrong transport`);
    assert.equal(c.disconnects, 0, `${c.addr} (${c.kind}) was disconnected`);
  }

  // Every polling request after the handshake names its sid: all of a session's successful
  // requests reached the gateway of its handshake.
  const lines = parseLog(nginx.log());
  const bySid = new Map();
  for (const l of lines.filter((x) => x.sid && x.status < 400)) {
    if (!bySid.has(l.sid)) bySid.set(l.sid, new Set());
    bySid.get(l.sid).add(l.upstream);
  }
  assert.ok(bySid.size >= 8, `expected the polling and upgrade sessions in the log, got ${bySid.size}`);
  for (const [sid, ups] of bySid) assert.equal(ups.size, 1, `session ${sid} reached ${[...ups]}`);
  // And each client address was served by one gateway; both gateways served someone.
  const byAddr = new Map();
  for (const l of lines.filter((x) => x.target.startsWith('/socket.io/') && x.status < 400)) {
    if (!byAddr.has(l.addr)) byAddr.set(l.addr, new Set());
    byAddr.get(l.addr).add(l.upstream);
  }
  for (const [addr, ups] of byAddr) assert.equal(ups.size, 1, `${addr} reached ${[...ups]}`);
  const used = new Set([...byAddr.values()].map((s) => [...s][0]));
  assert.deepEqual([...used].sort(), gateways.map((g) => g.upstream).sort(),
    'both gateways should have served sessions');
});

test('a gateway stops: its clients reconnect to the other, the rest stay', { skip }, async () => {
  // Which gateway serves whom, from the handshakes and polls in the log so far (WebSocket-only
  // clients are logged when their connection ends; they are told apart by who disconnects).
  const logged = new Map(parseLog(nginx.log()).filter((l) => l.status < 400)
    .map((l) => [l.addr, l.upstream]));
  const [stopped, survivor] = gateways;
  const onStopped = clients.filter((c) => logged.get(c.addr) === stopped.upstream);
  assert.ok(onStopped.length > 0, 'no logged client on the gateway to stop');

  stopped.child.kill('SIGTERM'); // the graceful drain: nothing is running, so it exits at once
  assert.deepEqual(await stopped.exited, { code: 0, signal: null });
  await sleep(300);
  const moved = clients.filter((c) => c.disconnects > 0);
  for (const c of onStopped) assert.ok(moved.includes(c), `${c.addr} (${c.kind}) was not disconnected`);
  assert.ok(moved.length < clients.length, 'the other gateway\'s clients were disconnected too');

  // They reconnect through nginx, which now sends them to the survivor; everyone echoes again.
  await Promise.all(moved.map(async (c) => {
    if (!c.socket.connected) await once(c.socket, 'connect', 10000);
  }));
  await Promise.all(clients.map((c) => echo(c.socket, { after: 'failover', from: c.addr })));
  const stayed = clients.filter((c) => !moved.includes(c));
  for (const c of stayed) assert.equal(c.disconnects, 0, `${c.addr} on the survivor was disconnected`);

  // The log agrees: after the stop every successful request went to the survivor, and the
  // moved clients' new sessions each stayed there.
  for (const c of clients) c.socket.close();
  await sleep(300);
  const lines = parseLog(nginx.log());
  const movedAddrs = new Set(moved.map((c) => c.addr));
  const newSids = new Set();
  for (const l of lines.filter((x) => movedAddrs.has(x.addr) && x.sid && x.status < 400)) {
    if (l.upstream === survivor.upstream) newSids.add(l.sid);
  }
  const bySid = new Map();
  for (const l of lines.filter((x) => x.sid && x.status < 400)) {
    if (!bySid.has(l.sid)) bySid.set(l.sid, new Set());
    bySid.get(l.sid).add(l.upstream);
  }
  for (const [sid, ups] of bySid) assert.equal(ups.size, 1, `session ${sid} reached ${[...ups]}`);
  assert.ok(newSids.size > 0, 'no moved session was logged on the survivor');
  // WebSocket connections are logged when they end: the moved WebSocket clients' first
  // connection went to the stopped gateway, the later one to the survivor.
  for (const c of moved.filter((x) => x.kind === 'websocket')) {
    const ws = lines.filter((l) => l.addr === c.addr && l.status === 101);
    assert.ok(ws.length >= 2, `${c.addr}: expected two WebSocket connections, got ${ws.length}`);
    assert.equal(ws[ws.length - 1].upstream, survivor.upstream);
    assert.ok(ws.some((l) => l.upstream === stopped.upstream || l.tried.includes(stopped.upstream)));
  }
});
