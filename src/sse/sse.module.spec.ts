import { config as rxjsConfig, Subject } from 'rxjs';
import { containUnhandledRxjsErrors } from './sse.module';

describe('containUnhandledRxjsErrors', () => {
  afterEach(() => {
    rxjsConfig.onUnhandledError = null;
  });

  it('reports an error thrown inside a subscriber instead of rethrowing it out of the process', () => {
    const errors: string[] = [];
    containUnhandledRxjsErrors({ error: (message: string) => errors.push(message) } as never);
    jest.useFakeTimers();
    try {
      const subject = new Subject<number>();
      subject.subscribe(() => {
        throw new RangeError('Maximum call stack size exceeded');
      });
      subject.next(1);
      expect(() => jest.runOnlyPendingTimers()).not.toThrow();
    } finally {
      jest.useRealTimers();
    }
    expect(errors).toEqual([
      'a subscriber threw; contained: RangeError: Maximum call stack size exceeded',
    ]);
  });

  it('negative control: without it, RxJS hands the error to a timer that would throw it', () => {
    jest.useFakeTimers();
    try {
      const subject = new Subject<number>();
      subject.subscribe(() => {
        throw new RangeError('boom');
      });
      subject.next(1);
      expect(() => jest.runOnlyPendingTimers()).toThrow(RangeError);
    } finally {
      jest.useRealTimers();
    }
  });
});
