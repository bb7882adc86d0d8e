// End-to-end tests of the Socket.IO v5 layer with the real npm socket.io-client against
// socketio-conformance-server (docs/conformance.md): each transport set-up, events, acks and
// binary both ways, namespaces, refusals, reconnection, heartbeat, connectTimeout, limits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { io, Manager } from 'socket.io-client';
import { Socket as EioSocket } from 'engine.io-client';
import { WebSocket } from 'ws';

const buildDir = process.env.NOSPACE_BUILD_DIR || '/work/main/build';
const serverBin = path.join(buildDir, 'tests/conformance/socketio-conformance-server');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startServer(args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(serverBin, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('socketio-conformance-server did not start')), 5000);
    let out = '';
    child.on('error', reject);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /^listening (\d+)$/m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const port = Number(m[1]);
      resolve({ port, url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') });
    });
  });
}

// Resolves with the event's arguments, rejects after `ms`.
function once(emitter, event, ms = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${ms} ms`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

const clients = [];
function connect(server, nsp = '/', options = {}) {
  const socket = io(server.url + nsp, { reconnection: false, ...options });
  clients.push(socket);
  return socket;
}

let server;
before(async () => {
  server = await startServer();
});
after(() => {
  for (const c of clients) c.io.engine?.close();
  for (const c of clients) c.close();
  server.stop();
});

const transports = {
  'polling only': { transports: ['polling'] },
  'WebSocket only': { transports: ['websocket'] },
  'polling then upgrade': {},
};

for (const [name, options] of Object.entries(transports)) {
  test(`${name}: auth, events, acks and binary both ways`, async () => {
    const socket = connect(server, '/', { ...options, forceNew: true, auth: { token: 'abc' } });
    const [auth] = await once(socket, 'auth');
    assert.deepEqual(auth, { token: 'abc' });
    assert.ok(socket.connected && socket.id.length === 20);

    // Client -> server event, server -> client event, with a nested binary argument.
    const blob = Buffer.from([0, 1, 2, 250, 255]);
    socket.emit('message', 1, 'two', { nested: [blob] }, null);
    const back = await once(socket, 'message-back');
    assert.deepEqual(back, [1, 'two', { nested: [blob] }, null]);

    // Client -> server ack, binary in the ack.
    const acked = await new Promise((resolve, reject) =>
      socket.timeout(3000).emit('message-with-ack', 'x', blob, (err, ...args) =>
        err ? reject(err) : resolve(args)
      )
    );
    assert.deepEqual(acked, ['x', blob]);

    // Server -> client ack: the server emits "ack-me" with an id and reports our answer.
    socket.once('ack-me', (...args) => args.pop()('got', ...args));
    socket.emit('request-ack', 42, Buffer.from('bin'));
    const result = await once(socket, 'ack-result');
    assert.deepEqual(result, ['got', 42, Buffer.from('bin')]);

    if (name === 'polling then upgrade') {
      for (let i = 0; i < 50 && socket.io.engine.transport.name !== 'websocket'; i++) await sleep(20);
      assert.equal(socket.io.engine.transport.name, 'websocket');
    } else {
      assert.equal(socket.io.engine.transport.name, options.transports[0]);
    }
    socket.close();
  });
}

test('polling then upgrade: no event lost or duplicated while the transport switches', async () => {
  const socket = connect(server, '/', { forceNew: true });
  await once(socket, 'connect');
  const received = [];
  socket.on('message-back', (n) => received.push(n));
  for (let i = 0; i < 200; i++) {
    socket.emit('message', i);
    if (i % 20 === 0) await sleep(5);
  }
  for (let i = 0; i < 100 && received.length < 200; i++) await sleep(20);
  assert.deepEqual(received, [...Array(200).keys()]);
  assert.equal(socket.io.engine.transport.name, 'websocket');
  socket.close();
});

test('several namespaces share one connection; leaving one keeps the others', async () => {
  const manager = new Manager(server.url, { reconnection: false });
  const main = manager.socket('/', { auth: { who: 'main' } });
  const custom = manager.socket('/custom', { auth: { who: 'custom' } });
  main.connect();
  custom.connect();
  clients.push(main, custom);
  const [[a], [b]] = await Promise.all([once(main, 'auth'), once(custom, 'auth')]);
  assert.deepEqual(a, { who: 'main' });
  assert.deepEqual(b, { who: 'custom' });
  assert.notEqual(main.id, custom.id);
  assert.equal(main.io.engine, custom.io.engine, 'one Engine.IO connection');

  custom.emit('message', 'to-custom');
  main.emit('message', 'to-main');
  const [[fromCustom], [fromMain]] = await Promise.all([
    once(custom, 'message-back'),
    once(main, 'message-back'),
  ]);
  assert.equal(fromCustom, 'to-custom');
  assert.equal(fromMain, 'to-main');

  custom.disconnect();
  main.emit('message', 'still-here');
  assert.deepEqual(await once(main, 'message-back'), ['still-here']);
  assert.ok(main.connected);
  main.close();
});

test('CONNECT_ERROR for an unknown namespace and for a refused handshake', async () => {
  const unknown = connect(server, '/nope', { forceNew: true });
  const [err] = await once(unknown, 'connect_error');
  assert.equal(err.message, 'Invalid namespace');

  const refused = connect(server, '/guarded', { forceNew: true, auth: { token: 'wrong' } });
  const [err2] = await once(refused, 'connect_error');
  assert.equal(err2.message, 'Not authorized');

  const admitted = connect(server, '/guarded', { forceNew: true, auth: { token: 'secret' } });
  await once(admitted, 'connect');
  admitted.close();
});

test('DISCONNECT from the server: "io server disconnect", no reconnection', async () => {
  const socket = connect(server, '/', { forceNew: true });
  await once(socket, 'connect');
  socket.emit('disconnect-me');
  const [reason] = await once(socket, 'disconnect');
  assert.equal(reason, 'io server disconnect');
  socket.close();
});

test('reconnection after the server drops the connection', async () => {
  const socket = connect(server, '/', {
    forceNew: true,
    reconnection: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
  });
  await once(socket, 'connect');
  const firstId = socket.id;
  socket.emit('drop-connection');
  const [reason] = await once(socket, 'disconnect');
  assert.equal(reason, 'transport close');
  await once(socket, 'connect', 5000);
  assert.notEqual(socket.id, firstId);
  socket.emit('message', 'after');
  assert.deepEqual(await once(socket, 'message-back'), ['after']);
  socket.close();
});

for (const transport of ['polling', 'websocket']) {
  test(`heartbeat timeout (${transport}): a client that stops answering pings is closed`, async () => {
    const socket = connect(server, '/', { forceNew: true, transports: [transport] });
    await once(socket, 'connect');
    const engine = socket.io.engine;
    const send = engine._sendPacket.bind(engine);
    let pings = 0;
    engine._sendPacket = (type, ...rest) => (type === 'pong' ? pings++ : send(type, ...rest));
    const started = Date.now();
    const [reason] = await once(socket, 'disconnect', 5000);
    const elapsed = Date.now() - started;
    // The client keeps receiving pings, so its own ping timeout cannot be the cause: the
    // server closed the session pingTimeout (200 ms) after a ping went unanswered, and the
    // first ping comes at most pingInterval (300 ms) after we stopped answering.
    assert.ok(pings >= 1, 'the server pinged');
    assert.ok(['transport close', 'transport error'].includes(reason), reason);
    assert.ok(elapsed >= 150 && elapsed < 3000, `closed after ${elapsed} ms`);
    socket.close();
  });
}

test('maxPayload: a message over the limit ends the connection (polling and WebSocket)', async () => {
  // A smaller limit than the reference 1000000 keeps the test quick over long-polling with
  // 300 ms pings; the 1000000 default is the same code path.
  const small = await startServer(['--max-payload', '100000']);
  try {
    for (const transport of ['polling', 'websocket']) {
      const socket = io(small.url, { forceNew: true, reconnection: false, transports: [transport] });
      clients.push(socket);
      await once(socket, 'connect');
      socket.emit('message', 'x'.repeat(90000));
      assert.equal((await once(socket, 'message-back'))[0].length, 90000, transport);
      socket.emit('message', 'x'.repeat(110000));
      const [reason] = await once(socket, 'disconnect');
      assert.ok(['transport close', 'transport error'].includes(reason), `${transport}: ${reason}`);
      socket.close();
    }
  } finally {
    small.stop();
  }
});

test('refused origin: connect_error; the allowed origin connects', async () => {
  const strict = await startServer(['--allowed-origin', 'http://good.example']);
  try {
    for (const transport of ['polling', 'websocket']) {
      const bad = io(strict.url, {
        forceNew: true,
        reconnection: false,
        transports: [transport],
        extraHeaders: { Origin: 'http://evil.example' },
      });
      clients.push(bad);
      const [err] = await once(bad, 'connect_error');
      assert.ok(err instanceof Error, transport);
      assert.ok(!bad.connected);
      bad.close();

      const good = io(strict.url, {
        forceNew: true,
        reconnection: false,
        transports: [transport],
        extraHeaders: { Origin: 'http://good.example' },
      });
      clients.push(good);
      await once(good, 'connect');
      good.close();
    }
  } finally {
    strict.stop();
  }
});

// Raw Engine.IO sessions: what socket.io-client never does.
function rawSession(url) {
  const eio = new EioSocket(url, { path: '/socket.io/', transports: ['websocket'] });
  const messages = [];
  eio.on('message', (m) => messages.push(m));
  return { eio, messages };
}

test('connectTimeout: a connection that joins no namespace is closed after 1 s', async () => {
  const { eio } = rawSession(server.url);
  await once(eio, 'open');
  const started = Date.now();
  const [reason] = await once(eio, 'close', 5000);
  const elapsed = Date.now() - started;
  assert.equal(reason, 'transport close');
  // The server's 1000 ms started at the handshake, a little before 'open' fired here.
  assert.ok(elapsed >= 700 && elapsed < 3000, `closed after ${elapsed} ms`);
});

for (const [what, frame] of [
  ['unknown type', '9'],
  ['bad JSON', '2["message",'],
  ['bad ack id', '3/custom,x[]'],
  ['bad attachment count', '5x-["message"]'],
]) {
  test(`a malformed packet (${what}) closes the connection`, async () => {
    const { eio, messages } = rawSession(server.url);
    await once(eio, 'open');
    eio.send('0');
    await sleep(100);
    assert.match(messages[0] ?? '', /^0\{"sid":"[\w-]{20}"\}$/);
    const started = Date.now();
    eio.send(frame);
    const [reason] = await once(eio, 'close');
    assert.equal(reason, 'transport close');
    // At once, not by a timeout: the client answers pings, and the namespace was joined.
    assert.ok(Date.now() - started < 1000, `closed after ${Date.now() - started} ms`);
  });
}

// Byte-exact exchanges over a raw WebSocket, as the official Socket.IO protocol test suite
// does them against its reference server: Engine.IO message packets ("4" + Socket.IO packet)
// as text frames, attachments as binary frames.
async function rawWs(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
  const frames = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const frame = isBinary ? Buffer.from(data) : data.toString();
    if (frame === '2') return ws.send('3'); // answer pings
    if (waiters.length) waiters.shift()(frame);
    else frames.push(frame);
  });
  ws.next = () =>
    new Promise((resolve, reject) => {
      if (frames.length) return resolve(frames.shift());
      const timer = setTimeout(() => reject(new Error('no frame within 3 s')), 3000);
      waiters.push((f) => {
        clearTimeout(timer);
        resolve(f);
      });
    });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  assert.match(await ws.next(), /^0\{.*"sid":"/);
  return ws;
}

test('raw WebSocket: the reference server\'s exact packets', async () => {
  const ws = await rawWs(server.port);
  try {
    ws.send('40{"token":"123"}');
    assert.match(await ws.next(), /^40\{"sid":"[\w-]{20}"\}$/);
    assert.equal(await ws.next(), '42["auth",{"token":"123"}]');
    ws.send('40/custom,');
    assert.match(await ws.next(), /^40\/custom,\{"sid":"[\w-]{20}"\}$/);
    assert.equal(await ws.next(), '42/custom,["auth",{}]');
    ws.send('40/random');
    assert.equal(await ws.next(), '44/random,{"message":"Invalid namespace"}');

    ws.send('42["message",1,"2",{"3":[true]}]');
    assert.equal(await ws.next(), '42["message-back",1,"2",{"3":[true]}]');
    ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
    assert.equal(await ws.next(), '43456[1,"2",{"3":[false]}]');

    ws.send('451-["message",{"_placeholder":true,"num":0}]');
    ws.send(Buffer.from([1, 2, 3]));
    assert.equal(await ws.next(), '451-["message-back",{"_placeholder":true,"num":0}]');
    assert.deepEqual(await ws.next(), Buffer.from([1, 2, 3]));
    ws.send('451-/custom,789["message-with-ack",{"_placeholder":true,"num":0}]');
    ws.send(Buffer.from([4, 5]));
    assert.equal(await ws.next(), '461-/custom,789[{"_placeholder":true,"num":0}]');
    assert.deepEqual(await ws.next(), Buffer.from([4, 5]));

    ws.send('41/custom,');
    ws.send('42/custom,["message","ignored"]'); // no longer joined: dropped
    ws.send('42["message","main"]');
    assert.equal(await ws.next(), '42["message-back","main"]');
  } finally {
    ws.close();
  }
});
