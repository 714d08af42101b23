// Contender "express": the SSE pattern of the common Express tutorial, on Express 5. An array of
// clients, filtered on close; the publish route answers, then loops the clients and stringifies
// the event for each one. Only the frame bytes are aligned with Rivulet's topic events.

import express from 'express';
import { HOST, PORT, SSE_HEADERS, envelope, stats } from './common.mjs';

const app = express();
app.use(express.json());

let clients = [];
let lastId = 0;

function eventsHandler(request, response) {
  response.writeHead(200, SSE_HEADERS);
  response.write('retry: 3000\n: connected\n\n');

  const clientId = Date.now() + Math.random();
  clients.push({ id: clientId, response });

  request.on('close', () => {
    clients = clients.filter((client) => client.id !== clientId);
  });
}

function sendEventsToAll(id, event) {
  clients.forEach((client) =>
    client.response.write(`id: ${id}\ndata: ${JSON.stringify(event)}\n\n`),
  );
}

function addEvent(request, response) {
  const id = String(++lastId);
  const event = envelope(id, request.body);
  response.status(202).json({ id });
  sendEventsToAll(id, event);
}

app.get('/events', eventsHandler);
app.post('/publish', addEvent);
app.get('/__stats', (_req, res) => res.json(stats(clients.length)));

app.listen(PORT, HOST);
