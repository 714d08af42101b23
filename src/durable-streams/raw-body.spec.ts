import { BadRequestException, PayloadTooLargeException } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { Request } from 'express';
import { readRawBody } from './raw-body';

/** A request body as node:http delivers it: data events, then end or error. */
function fakeRequest(headers: Record<string, string> = {}): EventEmitter & Partial<Request> {
  const req = new EventEmitter() as EventEmitter & Partial<Request>;
  Object.assign(req, { headers, aborted: false });
  return req;
}

describe(readRawBody.name, () => {
  it('resolves the whole body', async () => {
    const req = fakeRequest();
    const body = readRawBody(req as Request, 10);
    req.emit('data', Buffer.from('abc'));
    req.emit('data', Buffer.from('def'));
    req.emit('end');
    expect((await body).toString()).toBe('abcdef');
  });

  it('refuses a body over the limit once it is read (413)', async () => {
    const req = fakeRequest();
    const body = readRawBody(req as Request, 4);
    req.emit('data', Buffer.from('abcdef'));
    req.emit('end');
    await expect(body).rejects.toBeInstanceOf(PayloadTooLargeException);
  });

  it('answers a body the client abandoned as a 400, not a server error', async () => {
    const req = fakeRequest({ 'content-length': '100' });
    const body = readRawBody(req as Request, 1000);
    req.emit('data', Buffer.from('[1'));
    Object.assign(req, { aborted: true });
    req.emit('error', Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    await expect(body).rejects.toBeInstanceOf(BadRequestException);
  });

  it('control: any other stream error stays what it is', async () => {
    const req = fakeRequest();
    const body = readRawBody(req as Request, 1000);
    const failure = new Error('decoder broke');
    req.emit('error', failure);
    await expect(body).rejects.toBe(failure);
  });
});
