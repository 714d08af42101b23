import {
  commentFrame,
  errorFrame,
  FrameError,
  frameOf,
  openingFrame,
  protocolFrame,
  serializeMessage,
} from './sse-serializer';

describe('serializeMessage', () => {
  it('writes id, event and JSON data in one frame ending with a blank line', () => {
    expect(serializeMessage({ id: '7', type: 'notification', data: { a: 1 } })).toBe(
      'event: notification\nid: 7\ndata: {"a":1}\n\n',
    );
  });

  it('omits event: for the default type "message"', () => {
    expect(serializeMessage({ type: 'message', data: 'x' })).toBe('data: x\n\n');
  });

  it('splits multi-line data into several data: lines, whatever the line break', () => {
    expect(serializeMessage({ data: 'a\nb\r\nc\rd' })).toBe(
      'data: a\ndata: b\ndata: c\ndata: d\n\n',
    );
  });

  it('never lets CR or LF reach an event:, id: or retry: line', () => {
    const frame = serializeMessage({
      type: 'x\n\ndata: pwned',
      id: '1\r\nevent: evil',
      data: 'ok',
    });
    expect(frame).toBe('event: xdata: pwned\nid: 1event: evil\ndata: ok\n\n');
    expect(frame.split('\n\n')).toHaveLength(2); // exactly one frame
  });

  it('keeps newlines inside JSON strings escaped, so data cannot end the frame', () => {
    const frame = serializeMessage({ data: { text: 'a\n\nevent: x\ndata: pwned' } });
    expect(frame).toBe('data: {"text":"a\\n\\nevent: x\\ndata: pwned"}\n\n');
  });

  it('writes retry only as a whole, non-negative number', () => {
    expect(serializeMessage({ retry: 1500.7 })).toBe('retry: 1500\n\n');
    expect(serializeMessage({ retry: -1 })).toBe('\n');
  });

  it('writes comments as ": " lines', () => {
    expect(commentFrame('ping')).toBe(': ping\n\n');
    expect(serializeMessage({ comment: 'a\nb' })).toBe(': a\n: b\n\n');
  });

  it('opens a stream with retry and a comment', () => {
    expect(openingFrame(3000)).toBe('retry: 3000\n: connected\n\n');
  });
});

describe('frameOf', () => {
  it('serializes a message object once, however many times it is written', () => {
    const message = { id: '1', data: { n: 1 } };
    const first = frameOf(message);
    message.data.n = 2; // a cached frame does not change
    expect(frameOf(message)).toBe(first);
  });
});

describe('frameOf with a value JSON cannot write', () => {
  const deep = () => JSON.parse('['.repeat(20_000) + ']'.repeat(20_000)) as unknown;

  it('negative control: serializing it unprotected throws RangeError', () => {
    expect(() => serializeMessage({ id: '5', data: deep() })).toThrow(RangeError);
  });

  it('throws a FrameError naming the event, once per message however many connections ask', () => {
    const message = { id: '5', data: deep() };
    let first: unknown;
    try {
      frameOf(message);
    } catch (error) {
      first = error;
    }
    expect(first).toBeInstanceOf(FrameError);
    expect((first as FrameError).eventId).toBe('5');
    expect(() => frameOf(message)).toThrow(first as Error);
  });

  it('builds the error frame that takes the event id, so a resume goes past it', () => {
    expect(errorFrame('Event 5 could not be sent', '5')).toBe(
      'id: 5\ndata: {"type":"error","message":"Event 5 could not be sent"}\n\n',
    );
  });
});

describe('protocolFrame', () => {
  it('writes event: and each line as data:<line>, a line break per line, a blank line at the end', () => {
    expect(protocolFrame('data', 'line1\nline2\r\nline3\rend')).toBe(
      'event: data\ndata:line1\ndata:line2\ndata:line3\ndata:end\n\n',
    );
    expect(protocolFrame('control', '{"a":1}')).toBe('event: control\ndata:{"a":1}\n\n');
  });

  it('keeps a leading space: a line that starts with one gets the optional space the parser strips', () => {
    expect(protocolFrame('data', ' more')).toBe('event: data\ndata:  more\n\n');
  });

  it('never lets a payload start a new frame or reach the event: line', () => {
    const frame = protocolFrame('da\r\nta', 'safe\r\n\r\nevent: control\r\ndata: {"x":1}');
    expect(frame.startsWith('event: data\n')).toBe(true);
    // Every line after the event line is a data: line (a blank payload line is `data:`, not a boundary).
    const lines = frame.slice(0, -2).split('\n').slice(1);
    expect(lines.every((line) => line.startsWith('data:'))).toBe(true);
    expect(frame.indexOf('\n\n')).toBe(frame.length - 2);
  });
});
