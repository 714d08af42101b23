import { Logger } from '@nestjs/common';
import {
  AppendInput,
  AppendOptions,
  LogEvent,
  StoreUnavailableError,
} from '../event-log/event-log';
import { InMemoryEventLog } from '../event-log/in-memory-event-log';
import { AiEvent, aiTopic } from './ai-events';
import { AiProviderError } from './ai-provider';
import { GenerationRun, STORE_FAILURE } from './generation-run';

/** The real in-memory log, refusing appends while `down` (a store outage). */
class FlakyLog extends InMemoryEventLog {
  down = false;
  private refused = 0;
  private waiting: { count: number; resolve: () => void }[] = [];

  override append<T>(input: AppendInput<T>, options?: AppendOptions): Promise<LogEvent<T>> {
    if (!this.down) return super.append(input, options);
    this.refused++;
    this.waiting = this.waiting.filter((w) => (w.count <= this.refused ? w.resolve() : true));
    return Promise.reject(new StoreUnavailableError('store down'));
  }

  /** Resolves once `count` appends have been refused in all. */
  whenRefused(count: number): Promise<void> {
    if (this.refused >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ count, resolve }));
  }
}

const quiet = new Logger('test');
beforeEach(() => {
  jest.spyOn(quiet, 'error').mockImplementation(() => undefined);
  jest.spyOn(quiet, 'warn').mockImplementation(() => undefined);
});

/** An answer of `chunks`; it stops, like a real provider, when the signal aborts. */
function answerOf(chunks: readonly string[], gate?: Promise<void>) {
  return async function* (signal: AbortSignal): AsyncIterable<string> {
    for (const [i, chunk] of chunks.entries()) {
      if (i > 0 && gate) await gate;
      signal.throwIfAborted();
      yield chunk;
    }
  };
}

/**
 * Starts `run` on an answer of `chunks` that holds before its second chunk until `open()`; `signal`
 * is the one the run handed its source.
 */
function gatedAnswer(run: GenerationRun, chunks: readonly string[]) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let signal: AbortSignal | undefined;
  const answered = run.answer((s) => ((signal = s), answerOf(chunks, gate)(s)));
  return { answered, open, signal: () => signal };
}

async function topicOf(log: InMemoryEventLog, id: string): Promise<AiEvent[]> {
  const { events } = await log.readAfter([aiTopic(id)], undefined);
  return events.map((event) => event.data as AiEvent);
}

function setUp() {
  const log = new FlakyLog(1000);
  const shutdown = new AbortController();
  const run = new GenerationRun(log, 'g', shutdown.signal, quiet);
  return { log, shutdown, run };
}

describe(GenerationRun.name, () => {
  it('writes every chunk in order, then the terminal event after them', async () => {
    const { log, run } = setUp();
    const outcome = await run.answer(answerOf(['Hel', 'lo', ' wörld']));
    expect(outcome).toEqual({ type: 'done' });
    expect(run.ended).toBe(false);
    await run.finish(outcome);
    expect(run.ended).toBe(true);
    expect(await topicOf(log, 'g')).toEqual([
      { type: 'chunk', content: 'Hel' },
      { type: 'chunk', content: 'lo' },
      { type: 'chunk', content: ' wörld' },
      { type: 'done' },
    ]);
    // A second end writes nothing more.
    expect(run.finish({ type: 'done' })).toBeUndefined();
    expect(run.endWithoutWriting()).toBe(false);
    expect(await topicOf(log, 'g')).toHaveLength(4);
    await log.close();
  });

  it('a stop mid-answer aborts the source and nothing lands after the terminal event', async () => {
    const { log, run } = setUp();
    const { answered, open } = gatedAnswer(run, ['one', 'two', 'three']);
    await new Promise(setImmediate); // 'one' read from the source
    run.abort('cancelled');
    const written = run.finish({ type: 'error', message: 'cancelled', reason: 'cancelled' });
    open();
    // The source threw on the aborted signal: the run had ended, so that is no provider failure.
    expect(await answered).toEqual({ type: 'done' });
    await written;
    expect(await topicOf(log, 'g')).toEqual([
      { type: 'chunk', content: 'one' },
      { type: 'error', message: 'cancelled', reason: 'cancelled' },
    ]);
    await log.close();
  });

  it("names the provider's failure, or `upstream` for anything else", async () => {
    const { log, run } = setUp();
    const failing = async function* (): AsyncIterable<string> {
      yield await Promise.resolve('partial');
      throw new AiProviderError('timeout', 'The AI provider timed out');
    };
    expect(await run.answer(failing)).toEqual({
      type: 'error',
      message: 'The AI provider timed out',
      reason: 'timeout',
    });
    const other = new GenerationRun(log, 'h', new AbortController().signal, quiet);
    // A source that throws before it streams anything (a bug): caught the same way.
    const broken = (): AsyncIterable<string> => {
      throw new TypeError('bug');
    };
    expect(await other.answer(broken)).toEqual({
      type: 'error',
      message: 'The AI provider failed',
      reason: 'upstream',
    });
    await log.close();
  });

  it('a chunk the store refuses stops the answer: no later chunk, the end says `store`', async () => {
    const { log, run } = setUp();
    const { answered, open, signal } = gatedAnswer(run, ['kept', 'lost', 'never']);
    await new Promise(setImmediate);
    log.down = true;
    open();
    const outcome = await answered;
    expect(outcome).toEqual(STORE_FAILURE);
    expect(signal()?.aborted).toBe(true); // upstream released at once
    log.down = false;
    await run.finish(outcome);
    expect(await topicOf(log, 'g')).toEqual([{ type: 'chunk', content: 'kept' }, STORE_FAILURE]);
    await log.close();
  });

  it('retries a refused terminal event until the store takes it', async () => {
    const { log, run } = setUp();
    await run.answer(answerOf(['a']));
    log.down = true;
    const written = run.finish({ type: 'done' });
    await log.whenRefused(2); // the first try and one retry
    expect(await topicOf(log, 'g')).toEqual([{ type: 'chunk', content: 'a' }]);
    log.down = false;
    await written;
    expect(await topicOf(log, 'g')).toEqual([{ type: 'chunk', content: 'a' }, { type: 'done' }]);
    await log.close();
  });

  it('gives a refused terminal event up at shutdown', async () => {
    const { log, run, shutdown } = setUp();
    log.down = true;
    const written = run.finish({ type: 'done' });
    await log.whenRefused(1);
    shutdown.abort();
    await written;
    log.down = false;
    expect(await topicOf(log, 'g')).toEqual([]);
    await log.close();
  });

  it('ended elsewhere: upstream aborted and nothing more written', async () => {
    const { log, run } = setUp();
    const { answered, open, signal } = gatedAnswer(run, ['x', 'y']);
    await new Promise(setImmediate); // 'x' written
    expect(run.endWithoutWriting()).toBe(true);
    expect(signal()?.aborted).toBe(true);
    open();
    await answered;
    expect(run.finish({ type: 'done' })).toBeUndefined();
    await new Promise(setImmediate);
    expect(await topicOf(log, 'g')).toEqual([{ type: 'chunk', content: 'x' }]);
    await log.close();
  });
});
