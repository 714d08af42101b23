// Minimal HTTP/1.1 response reader for raw sockets: status line and headers, then the body,
// de-chunked when the server uses `Transfer-Encoding: chunked`. Subclasses get body bytes as
// (buffer, from, to) segments without copies.

const NL = 10;
const CR = 13;
const SEMI = 59;
const HEADER_END = Buffer.from('\r\n\r\n');

const CHUNK_SIZE = 0;
const CHUNK_EXT = 1;
const CHUNK_DATA = 2;
const CHUNK_DATA_END = 3;
const CHUNK_DONE = 4;

function hexValue(b) {
  if (b >= 48 && b <= 57) return b - 48;
  if (b >= 97 && b <= 102) return b - 87;
  if (b >= 65 && b <= 70) return b - 55;
  return -1;
}

export function requestHead(host, port, path, headers = {}) {
  let head = `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return head + '\r\n';
}

export class HttpStream {
  constructor() {
    this.status = 0;
    this.headers = '';
    this.headerDone = false;
    this.headerBuf = null;
    this.chunked = false;
    this.chunkState = CHUNK_SIZE;
    this.chunkSize = 0;
    this.chunkLeft = 0;
    this.ended = false;
  }

  /** Feed one socket chunk. Returns false while the header is still incomplete. */
  feed(buf) {
    if (this.headerDone) {
      this.feedBody(buf, 0);
      return true;
    }
    if (this.headerBuf) buf = Buffer.concat([this.headerBuf, buf]);
    const end = buf.indexOf(HEADER_END);
    if (end === -1) {
      this.headerBuf = Buffer.from(buf); // the caller may reuse its read buffer
      return false;
    }
    this.headerBuf = null;
    this.headerDone = true;
    this.headers = buf.toString('latin1', 0, end);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(this.headers);
    this.status = m ? Number(m[1]) : -1;
    this.chunked = /\r\ntransfer-encoding:[^\r]*chunked/i.test(this.headers);
    this.onHead();
    if (end + 4 < buf.length) this.feedBody(buf, end + 4);
    return true;
  }

  header(name) {
    const m = new RegExp(`\\r\\n${name}:\\s*([^\\r]*)`, 'i').exec(this.headers);
    return m ? m[1] : undefined;
  }

  feedBody(buf, start) {
    const len = buf.length;
    if (!this.chunked) {
      if (start < len) this.body(buf, start, len);
      return;
    }
    let pos = start;
    while (pos < len) {
      switch (this.chunkState) {
        case CHUNK_SIZE:
        case CHUNK_EXT: {
          const b = buf[pos++];
          if (b === NL) {
            if (this.chunkSize === 0) {
              this.chunkState = CHUNK_DONE;
              this.ended = true;
              this.onEnd();
              return;
            }
            this.chunkState = CHUNK_DATA;
            this.chunkLeft = this.chunkSize;
          } else if (this.chunkState === CHUNK_SIZE && b !== CR) {
            if (b === SEMI) this.chunkState = CHUNK_EXT;
            else this.chunkSize = this.chunkSize * 16 + hexValue(b);
          }
          break;
        }
        case CHUNK_DATA: {
          const n = Math.min(this.chunkLeft, len - pos);
          this.body(buf, pos, pos + n);
          pos += n;
          this.chunkLeft -= n;
          if (this.chunkLeft === 0) this.chunkState = CHUNK_DATA_END;
          break;
        }
        case CHUNK_DATA_END:
          if (buf[pos++] === NL) {
            this.chunkState = CHUNK_SIZE;
            this.chunkSize = 0;
          }
          break;
        default:
          return;
      }
    }
  }

  onHead() {}
  onEnd() {}
  body(_buf, _from, _to) {}
}

/** Splits an SSE body into frames and parses their fields (for the few full-parse streams). */
export class SseFrameReader extends HttpStream {
  constructor(onFrame) {
    super();
    this.text = '';
    this.onFrame = onFrame;
  }

  body(buf, from, to) {
    this.text += buf.toString('utf8', from, to);
    let end;
    while ((end = this.text.indexOf('\n\n')) !== -1) {
      const raw = this.text.slice(0, end);
      this.text = this.text.slice(end + 2);
      this.onFrame(parseFrame(raw));
    }
  }
}

export function parseFrame(raw) {
  const frame = {
    id: undefined,
    event: undefined,
    data: undefined,
    retry: undefined,
    comment: false,
  };
  const data = [];
  for (const line of raw.split('\n')) {
    if (line.startsWith(':')) {
      frame.comment = true;
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'id') frame.id = value;
    else if (field === 'event') frame.event = value;
    else if (field === 'retry') frame.retry = value;
  }
  if (data.length > 0) frame.data = data.join('\n');
  return frame;
}
