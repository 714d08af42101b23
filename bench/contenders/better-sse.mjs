// Contender "better-sse": one channel, sessions from createSession(req, res) on node:http,
// channel.broadcast per event. keepAlive is set to 15 s, the heartbeat Rivulet is benchmarked
// with (better-sse's default is 10 s; its timer is per session).

import http from 'node:http';
import { createChannel, createSession } from 'better-sse';
import { HOST, PORT, envelope, stats } from './common.mjs';

const channel = createChannel();
let lastId = 0;

function readJson(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

async function subscribe(req, res) {
  const session = await createSession(req, res, { retry: 3000, keepAlive: 15_000 });
  channel.register(session);
}

async function publish(req, res) {
  let body;
  try {
    body = await readJson(req);
  } catch {
    res.writeHead(400).end();
    return;
  }
  const id = String(++lastId);
  channel.broadcast(envelope(id, body), 'message', { eventId: id });
  res.writeHead(202, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ id }));
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/events')) {
    void subscribe(req, res);
  } else if (req.method === 'POST' && req.url === '/publish') {
    void publish(req, res);
  } else if (req.method === 'GET' && req.url === '/__stats') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(stats(channel.sessionCount)));
  } else {
    res.writeHead(404).end();
  }
});

server.listen(PORT, HOST);
