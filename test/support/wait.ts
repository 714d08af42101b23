/**
 * The one way tests wait: for a condition, never for a fixed time.
 *
 * - `changes.until(check)`: event-driven. The owner of some state (a stream reader, a fake server)
 *   calls `changes.notify()` whenever the state changes; the check runs then, and only then.
 * - `until(check)`: for state that tells nobody when it changes (a port that starts accepting, a
 *   counter inside the app, a command's output): the check runs again every `everyMs`.
 *
 * Both fail with `timed out waiting for <what>` after `timeoutMs` (`Infinity`: the test's own Jest
 * timeout is the bound), and a check that throws fails the wait at once with its error.
 */

export interface WaitOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  /** Appended to the timeout message: what was seen instead. */
  got?: () => string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

function timeoutError(what: string, timeoutMs: number, got?: () => string): Error {
  const seen = got ? `; got ${got()}` : '';
  return new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}`);
}

/** Conditions on one piece of state, checked each time its owner says it changed. */
export class Changes {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  until(check: () => boolean, what: string, options: WaitOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => settle(timeoutError(what, timeoutMs, options.got)), timeoutMs)
        : undefined;
      const settle = (error?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        if (error === undefined) resolve();
        else reject(error);
      };
      const waiter = () => {
        try {
          if (check()) settle();
        } catch (error) {
          settle(error instanceof Error ? error : new Error(`the check for ${what} threw`));
        }
      };
      this.waiters.add(waiter);
      waiter();
    });
  }
}

/** Checks `check` every `everyMs` (default 5) until it holds: for state nobody announces. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  options: WaitOptions & { everyMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const everyMs = options.everyMs ?? 5;
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw timeoutError(what, timeoutMs, options.got);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
