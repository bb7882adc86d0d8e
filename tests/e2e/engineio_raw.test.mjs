// Raw HTTP and WebSocket tests of the Engine.IO v4 server: what a client library never sends
// (wrong EIO, unknown sid, bad methods, concurrent GETs, garbage packets, oversized bodies,
// trickled requests, refused origins) and the protocol steps spelled out byte by byte
// (handshake, heartbeat, probe/upgrade/noop). The server is engineio-test-server, the
// --engineio-echo mode with its limits on the command line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { WebSocket } from 'ws';
import { Socket as EioSocket } from 'engine.io-client';

const buildDir = process.env.NOSPACE_BUILD_DIR || '/work/main/build';
const serverBin = path.join(buildDir, 'tests/conformance/engineio-test-server');
const conformanceBin = path.join(buildDir, 'tests/conformance/socketio-conformance-server');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer(args = [], bin = serverBin) {
  const child = spawn(bin, ['--port', '0', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  let waiter = null;
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, i));
      buffered = buffered.slice(i + 1);
      if (waiter) waiter();
    }
  });
  const nextLine = () =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no output from engineio-test-server')), 5000);
      const check = () => {
        if (lines.length) {
          clearTimeout(timer);
          waiter = null;
          resolve(lines.shift());
        } else waiter = check;
      };
      check();
    });
  const first = await nextLine();
  const port = Number(first.split(' ')[1]);
  return {
    port,
    base: `http://127.0.0.1:${port}/engine.io/`,
    wsBase: `ws://127.0.0.1:${port}/engine.io/`,
    async stats() {
      child.stdin.write('stats\n');
      const [, sessions, , live] = (await nextLine()).split(' ');
      return { sessions: Number(sessions), live: Number(live) };
    },
    stop() {
      child.kill('SIGTERM');
    },
  };
}

// One HTTP request on its own connection; resolves with status, headers and the body text.
function request(url, { method = 'GET', headers = {}, body } = {}) {
  if (body !== undefined) headers = { 'Content-Length': Buffer.byteLength(body), ...headers };
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() })
      );
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Sends raw bytes on a TCP connection; resolves with everything received until the close.
function rawExchange(port, chunks, { gapMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let received = '';
    const started = Date.now();
    sock.on('data', (d) => (received += d));
    sock.on('error', reject);
    sock.on('close', () => resolve({ received, ms: Date.now() - started }));
    sock.on('connect', async () => {
      for (const chunk of chunks) {
        if (sock.destroyed) return;
        sock.write(chunk);
        if (gapMs) await sleep(gapMs);
      }
    });
  });
}

async function handshake(server, query = '') {
  const res = await request(`${server.base}?EIO=4&transport=polling${query}`);
  assert.equal(res.status, 200, res.body);
  assert.equal(res.body[0], '0');
  return JSON.parse(res.body.slice(1));
}

const poll = (server, sid) => request(`${server.base}?EIO=4&transport=polling&sid=${sid}`);
const push = (server, sid, body) =>
  request(`${server.base}?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body });

function openWs(url, options) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const messages = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const m = isBinary ? data : data.toString();
      if (waiters.length) waiters.shift()(m);
      else messages.push(m);
    });
    ws.next = () =>
      new Promise((res, rej) => {
        if (messages.length) return res(messages.shift());
        const timer = setTimeout(() => rej(new Error('no WebSocket message')), 3000);
        waiters.push((m) => {
          clearTimeout(timer);
          res(m);
        });
      });
    ws.closed = new Promise((res) => ws.on('close', (code) => res(code)));
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        reject(Object.assign(new Error('refused'), { status: res.statusCode, body: Buffer.concat(chunks).toString() }))
      );
    });
    ws.on('error', reject);
  });
}

test('handshake over long-polling carries sid, upgrades and the configured timings', async () => {
  const server = await startServer(['--ping-interval', '300', '--ping-timeout', '200', '--max-payload', '5000']);
  try {
    const res = await request(`${server.base}?EIO=4&transport=polling`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['connection'], 'close');
    assert.match(res.headers['content-type'], /^text\/plain/);
    const open = JSON.parse(res.body.slice(1));
    assert.match(open.sid, /^[A-Za-z0-9_-]{20}$/);
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(open.pingInterval, 300);
    assert.equal(open.pingTimeout, 200);
    assert.equal(open.maxPayload, 5000);
  } finally {
    server.stop();
  }
});

test('the reference error codes: 400 with {code, message}', async () => {
  const server = await startServer();
  try {
    const cases = [
      ['?EIO=3&transport=polling', 'GET', 5, 'Unsupported protocol version'],
      ['?transport=polling', 'GET', 5, 'Unsupported protocol version'],
      ['?EIO=abc&transport=polling', 'GET', 5, 'Unsupported protocol version'],
      ['?EIO=4&transport=carrier-pigeon', 'GET', 0, 'Transport unknown'],
      ['?EIO=4', 'GET', 0, 'Transport unknown'],
      ['?EIO=4&transport=polling&sid=nope', 'GET', 1, 'Session ID unknown'],
      ['?EIO=4&transport=polling', 'PUT', 2, 'Bad handshake method'],
      ['?EIO=4&transport=polling', 'POST', 2, 'Bad handshake method'],
      ['?EIO=4&transport=websocket', 'GET', 3, 'Bad request'], // websocket without Upgrade
    ];
    for (const [query, method, code, message] of cases) {
      const res = await request(server.base + query, { method });
      assert.equal(res.status, 400, `${method} ${query}`);
      assert.match(res.headers['content-type'], /application\/json/);
      assert.deepEqual(JSON.parse(res.body), { code, message }, `${method} ${query}`);
    }
    // A polling request on a session that does not use polling, and a bad method with a sid.
    const { sid } = await handshake(server);
    const res = await request(`${server.base}?EIO=4&transport=polling&sid=${sid}`, { method: 'DELETE' });
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.body).code, 3);
  } finally {
    server.stop();
  }
});

test('a second concurrent GET closes the session', async () => {
  const server = await startServer(['--ping-interval', '5000']);
  try {
    const { sid } = await handshake(server);
    const first = poll(server, sid);
    await sleep(100);
    const second = await poll(server, sid);
    assert.equal(second.status, 400);
    assert.deepEqual(JSON.parse(second.body), { code: 3, message: 'Bad request' });
    const held = await first;
    assert.equal(held.body, '1'); // the close packet
    const after = await poll(server, sid);
    assert.equal(JSON.parse(after.body).code, 1);
  } finally {
    server.stop();
  }
});

test('messages over long-polling: 0x1e-separated payloads, binary as b + base64', async () => {
  const server = await startServer(['--ping-interval', '5000']);
  try {
    const { sid } = await handshake(server);
    const res = await push(server, sid, '4hello\x1ebAQID\x1e4\u00e9t\u00e9');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
    const echoed = await poll(server, sid);
    assert.equal(echoed.body, '4hello\x1ebAQID\x1e4\u00e9t\u00e9');
    // A GET with nothing to send is held until there is data.
    const started = Date.now();
    const held = poll(server, sid);
    await sleep(200);
    await push(server, sid, '4later');
    assert.equal((await held).body, '4later');
    assert.ok(Date.now() - started >= 200);
  } finally {
    server.stop();
  }
});

test('garbage packets close the session', async () => {
  const server = await startServer(['--ping-interval', '5000']);
  try {
    for (const garbage of ['9nine', 'bnot*base64', '', '4ok\x1e\x1e', 'x']) {
      const { sid } = await handshake(server);
      const pushed = await push(server, sid, garbage);
      assert.equal(pushed.status, 400, JSON.stringify(garbage));
      assert.deepEqual(JSON.parse(pushed.body), { code: 3, message: 'Bad request' });
      const res = await poll(server, sid);
      assert.equal(res.status, 400, JSON.stringify(garbage));
      assert.equal(JSON.parse(res.body).code, 1, JSON.stringify(garbage));
    }
    // Over WebSocket: an unknown packet type ends the connection.
    const ws = await openWs(`${server.wsBase}?EIO=4&transport=websocket`);
    assert.equal((await ws.next())[0], '0');
    ws.send('7what');
    assert.ok([1002, 1005, 1006].includes(await ws.closed));
    assert.equal((await server.stats()).sessions, 0);
  } finally {
    server.stop();
  }
});

test('oversized bodies and messages are refused and end the session', async () => {
  const server = await startServer(['--max-payload', '1000', '--ping-interval', '5000']);
  try {
    const { sid } = await handshake(server);
    const res = await push(server, sid, '4' + 'x'.repeat(1500));
    assert.equal(res.status, 413);
    assert.equal(JSON.parse((await poll(server, sid)).body).code, 1);
    // Far above the limit: refused by the transport before the body is read.
    const huge = await push(server, (await handshake(server)).sid, '4' + 'x'.repeat(100000));
    assert.equal(huge.status, 413);
    // A WebSocket message above maxPayload closes the connection with 1009.
    const ws = await openWs(`${server.wsBase}?EIO=4&transport=websocket`);
    await ws.next();
    ws.send('4' + 'y'.repeat(1500));
    assert.equal(await ws.closed, 1009);
  } finally {
    server.stop();
  }
});

test('slowloris: a trickled request is cut off after the request timeout', async () => {
  const server = await startServer(['--request-timeout', '500']);
  try {
    // Headers one byte every 50 ms: would take ~4 s; the server closes after ~0.5 s.
    const head = `GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(40)}\r\n\r\n`;
    const headers = await rawExchange(server.port, head.split(''), { gapMs: 50 });
    assert.ok(headers.ms < 2000, `closed after ${headers.ms} ms`);
    assert.doesNotMatch(headers.received, /^HTTP\/1.1 200/);
    // Complete headers, then a body that never finishes.
    const body = await rawExchange(server.port, [
      'POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc',
    ]);
    assert.ok(body.ms < 2000, `closed after ${body.ms} ms`);
    // Headers larger than the header limit.
    const big = await rawExchange(server.port, [
      `GET /engine.io/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`,
    ]);
    assert.match(big.received, /^HTTP\/1.1 431/);
  } finally {
    server.stop();
  }
});

test('HTTP details websocketpp gets wrong are patched: chunked, Expect, HEAD, Connection', async () => {
  const server = await startServer();
  try {
    const chunked = await rawExchange(server.port, [
      'POST /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n4ab\r\n0\r\n\r\n',
    ]);
    assert.match(chunked.received, /^HTTP\/1.1 411/);
    assert.match(chunked.received, /Connection: close/i);
    const expect = await rawExchange(server.port, [
      'POST /engine.io/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n4a',
    ]);
    assert.match(expect.received, /^HTTP\/1.1 417/);
    const head = await rawExchange(server.port, ['HEAD /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n']);
    assert.match(head.received, /^HTTP\/1.1 404/);
    assert.ok(head.received.endsWith('\r\n\r\n'), 'no body after a HEAD response');
    const other = await request(`http://127.0.0.1:${server.port}/elsewhere`);
    assert.equal(other.status, 404);
  } finally {
    server.stop();
  }
});

test('Origin allowlist: refused origins get 403 {code 4} on both transports; CORS for allowed ones', async () => {
  const server = await startServer(['--origin', 'https://good.example']);
  try {
    const bad = await request(`${server.base}?EIO=4&transport=polling`, { headers: { Origin: 'https://evil.example' } });
    assert.equal(bad.status, 403);
    assert.deepEqual(JSON.parse(bad.body), { code: 4, message: 'Forbidden' });
    await assert.rejects(
      openWs(`${server.wsBase}?EIO=4&transport=websocket`, { origin: 'https://evil.example' }),
      (e) => e.status === 403 && JSON.parse(e.body).code === 4
    );
    const good = await request(`${server.base}?EIO=4&transport=polling`, { headers: { Origin: 'https://good.example' } });
    assert.equal(good.status, 200);
    assert.equal(good.headers['access-control-allow-origin'], 'https://good.example');
    assert.equal(good.headers['access-control-allow-credentials'], 'true');
    const preflight = await request(`${server.base}?EIO=4&transport=polling`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://good.example', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-headers'], 'content-type');
    assert.match(preflight.headers['access-control-allow-methods'], /POST/);
    const ws = await openWs(`${server.wsBase}?EIO=4&transport=websocket`, { origin: 'https://good.example' });
    assert.equal((await ws.next())[0], '0');
    ws.close();
    // Without an Origin header (not a browser) the request is allowed.
    await handshake(server);
  } finally {
    server.stop();
  }
});

test('WebSocket: direct connection, text and binary frames, server pings', async () => {
  const server = await startServer(['--ping-interval', '300', '--ping-timeout', '200']);
  try {
    const ws = await openWs(`${server.wsBase}?EIO=4&transport=websocket`);
    const open = JSON.parse((await ws.next()).slice(1));
    assert.deepEqual(open.upgrades, []);
    ws.send('4hello');
    assert.equal(await ws.next(), '4hello');
    ws.send(Buffer.from([1, 2, 3]));
    assert.deepEqual([...(await ws.next())], [1, 2, 3]);
    assert.equal(await ws.next(), '2'); // ping
    ws.send('3');
    assert.equal(await ws.next(), '2'); // the next ping after a pong: still alive
    // No pong: closed after pingTimeout.
    const started = Date.now();
    await ws.closed;
    assert.ok(Date.now() - started < 1000);
  } finally {
    server.stop();
  }
});

test('heartbeat over long-polling: a GET gets the ping; a missed pong closes the session', async () => {
  const server = await startServer(['--ping-interval', '300', '--ping-timeout', '200']);
  try {
    const { sid } = await handshake(server);
    const started = Date.now();
    const first = await poll(server, sid);
    assert.equal(first.body, '2');
    assert.ok(Date.now() - started >= 250);
    await push(server, sid, '3');
    assert.equal((await poll(server, sid)).body, '2');
    await sleep(400); // no pong
    assert.equal(JSON.parse((await poll(server, sid)).body).code, 1);
  } finally {
    server.stop();
  }
});

test('upgrade: probe, noop to the held GET, upgrade, then WebSocket only', async () => {
  const server = await startServer(['--ping-interval', '5000']);
  try {
    const { sid } = await handshake(server);
    const held = poll(server, sid);
    await sleep(50);
    const ws = await openWs(`${server.wsBase}?EIO=4&transport=websocket&sid=${sid}`);
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    assert.equal((await held).body, '6'); // noop: the client may pause polling
    await push(server, sid, '4queued-before-upgrade');
    ws.send('5');
    assert.equal(await ws.next(), '4queued-before-upgrade');
    ws.send('4over-ws');
    assert.equal(await ws.next(), '4over-ws');
    const late = await poll(server, sid);
    assert.equal(late.status, 400);
    assert.equal(JSON.parse(late.body).code, 3);
    // A second upgrade on the same session is refused.
    await assert.rejects(openWs(`${server.wsBase}?EIO=4&transport=websocket&sid=${sid}`), (e) => e.status === 400);
    ws.close();
    await ws.closed;
    await sleep(50);
    assert.deepEqual(await server.stats(), { sessions: 0, live: 0 });
  } finally {
    server.stop();
  }
});

test('upgrade: a probe that never upgrades is closed after the upgrade timeout', async () => {
  const server = await startServer(['--ping-interval', '5000', '--upgrade-timeout', '300']);
  try {
    const { sid } = await handshake(server);
    const ws = await openWs(`${server.wsBase}?EIO=4&transport=websocket&sid=${sid}`);
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    await ws.closed;
    await push(server, sid, '4still-polling');
    assert.equal((await poll(server, sid)).body, '4still-polling');
  } finally {
    server.stop();
  }
});

test('a close packet from a polling client ends its held GET with a noop and the session', async () => {
  const server = await startServer(['--ping-interval', '5000']);
  try {
    const { sid } = await handshake(server);
    const held = poll(server, sid);
    await sleep(50);
    assert.equal((await push(server, sid, '1')).status, 200);
    assert.equal((await held).body, '6');
    assert.equal(JSON.parse((await poll(server, sid)).body).code, 1);
    // The same over WebSocket: the connection is closed.
    const ws = await openWs(`${server.wsBase}?EIO=4&transport=websocket`);
    await ws.next();
    ws.send('1');
    await ws.closed;
    assert.deepEqual(await server.stats(), { sessions: 0, live: 0 });
  } finally {
    server.stop();
  }
});

test('server-side close reaches a polling client as a close packet', async () => {
  const server = await startServer(['--ping-interval', '5000']);
  try {
    const { sid } = await handshake(server);
    await push(server, sid, '4close');
    assert.equal((await poll(server, sid)).body, '1');
    assert.equal(JSON.parse((await poll(server, sid)).body).code, 1);
  } finally {
    server.stop();
  }
});

test('engine.io-client: no message lost or duplicated while upgrading under load', async () => {
  const server = await startServer(['--ping-interval', '300', '--ping-timeout', '200']);
  try {
    for (let round = 0; round < 3; ++round) {
      await new Promise((resolve, reject) => {
        const socket = new EioSocket(`http://127.0.0.1:${server.port}`, { path: '/engine.io/' });
        const fromServer = [];
        const echoes = [];
        let sent = 0;
        let upgraded = false;
        const N = 3000;
        socket.on('open', () => {
          socket.send('bulk ' + N);
          const pump = setInterval(() => {
            for (let k = 0; k < 20 && sent < N; ++k) socket.send('c' + sent++);
            if (sent >= N) clearInterval(pump);
          }, 1);
        });
        socket.on('upgrade', () => (upgraded = true));
        socket.on('message', (m) => {
          if (m[0] === 'c') echoes.push(Number(m.slice(1)));
          else fromServer.push(Number(m));
          if (fromServer.length === N && echoes.length === N) {
            try {
              assert.ok(upgraded, 'the client upgraded to WebSocket');
              assert.deepEqual(fromServer, [...Array(N).keys()]);
              assert.deepEqual(echoes, [...Array(N).keys()]);
              socket.close();
              resolve();
            } catch (e) {
              reject(e);
            }
          }
        });
        socket.on('error', reject);
        setTimeout(() => reject(new Error(`timeout: ${fromServer.length} + ${echoes.length}`)), 15000);
      });
    }
    await sleep(100);
    assert.deepEqual(await server.stats(), { sessions: 0, live: 0 });
  } finally {
    server.stop();
  }
});

test('every session is freed: many clients on both transports, closed from both sides', async () => {
  const server = await startServer(['--ping-interval', '300', '--ping-timeout', '200']);
  try {
    const clients = [];
    for (let i = 0; i < 30; ++i) {
      const transports = [['polling'], ['websocket'], ['polling', 'websocket']][i % 3];
      clients.push(
        new Promise((resolve, reject) => {
          const socket = new EioSocket(`http://127.0.0.1:${server.port}`, { path: '/engine.io/', transports });
          socket.on('open', () => socket.send(i % 2 ? 'close' : 'hi'));
          socket.on('message', () => socket.close());
          socket.on('close', resolve);
          socket.on('error', reject);
        })
      );
    }
    await Promise.all(clients);
    // Polling clients closed by the client leave with their close packet; give the server a
    // moment to see WebSocket closes.
    await sleep(300);
    assert.deepEqual(await server.stats(), { sessions: 0, live: 0 });
  } finally {
    server.stop();
  }
});

test('socketio-conformance-server --engineio-echo: the settings the Engine.IO test suite expects, echo both ways', async () => {
  const server = await startServer(['--engineio-echo'], conformanceBin);
  try {
    const open = await handshake(server);
    assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.equal(open.pingInterval, 300);
    assert.equal(open.pingTimeout, 200);
    assert.equal(open.maxPayload, 1000000);
    assert.equal((await push(server, open.sid, '4hello\x1ebAQIDBA==')).body, 'ok');
    assert.equal((await poll(server, open.sid)).body, '4hello\x1ebAQIDBA==');
    const cors = await request(`${server.base}?EIO=4&transport=polling`, { headers: { Origin: 'https://any.example' } });
    assert.equal(cors.headers['access-control-allow-origin'], 'https://any.example');
    const ws = await openWs(`${server.wsBase}?EIO=4&transport=websocket`);
    assert.deepEqual(JSON.parse((await ws.next()).slice(1)).upgrades, []);
    ws.send(Buffer.from([1, 2, 3, 4]));
    assert.deepEqual([...(await ws.next())], [1, 2, 3, 4]);
    ws.send('4text');
    assert.equal(await ws.next(), '4text');
    for (let i = 0; i < 3; ++i) {
      assert.equal(await ws.next(), '2');
      ws.send('3');
    }
    ws.close();
  } finally {
    server.stop();
  }
});
