// Contender "raw": the practical ceiling for Node. node:http, a Set of responses, one frame
// string built per event and one write per client.

import http from 'node:http';
import { HOST, PORT, SSE_HEADERS, envelope, stats } from './common.mjs';

const clients = new Set();
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

async function publish(req, res) {
  let body;
  try {
    body = await readJson(req);
  } catch {
    res.writeHead(400).end();
    return;
  }
  const id = String(++lastId);
  const frame = `id: ${id}\ndata: ${JSON.stringify(envelope(id, body))}\n\n`;
  for (const client of clients) client.write(frame);
  res.writeHead(202, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ id }));
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/events')) {
    res.writeHead(200, SSE_HEADERS);
    res.write('retry: 3000\n: connected\n\n');
    clients.add(res);
    res.on('close', () => clients.delete(res));
  } else if (req.method === 'POST' && req.url === '/publish') {
    void publish(req, res);
  } else if (req.method === 'GET' && req.url === '/__stats') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(stats(clients.size)));
  } else {
    res.writeHead(404).end();
  }
});

server.listen(PORT, HOST);
