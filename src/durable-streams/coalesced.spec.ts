import { coalesced } from './coalesced';

/** A pass that waits until released, counting how many started. */
function gatedPass(result = true) {
  const gates: (() => void)[] = [];
  let started = 0;
  const pass = () => {
    started++;
    return new Promise<boolean>((resolve) => gates.push(() => resolve(result)));
  };
  const release = async () => {
    gates.shift()?.();
    await new Promise(setImmediate);
  };
  return { pass, release, started: () => started };
}

describe('coalesced', () => {
  it('calls during a pass merge into one more pass after it', async () => {
    const { pass, release, started } = gatedPass();
    const run = coalesced(pass);
    const first = run();
    void run();
    void run();
    expect(started()).toBe(1); // never two at once
    await release();
    expect(started()).toBe(2); // the three calls made one pass, then one more
    await release();
    await first;
    expect(started()).toBe(2);
    // Idle again: the next call starts a pass at once.
    void run();
    expect(started()).toBe(3);
    await release();
  });

  it('a pass that says the work is over ends the repeats', async () => {
    const { pass, release, started } = gatedPass(false);
    const run = coalesced(pass);
    const first = run();
    void run(); // asks for another pass, which `false` cancels
    await release();
    await first;
    expect(started()).toBe(1);
  });

  it('a pass that throws rejects its call and leaves it ready for the next', async () => {
    let fail = true;
    const run = coalesced(() =>
      fail ? Promise.reject(new Error('down')) : Promise.resolve(false),
    );
    await expect(run()).rejects.toThrow('down');
    fail = false;
    await expect(run()).resolves.toBeUndefined();
  });
});
