import { InMemoryReaderPresence } from './reader-presence';

describe(InMemoryReaderPresence.name, () => {
  it('counts the grace period from the moment the last reader left', async () => {
    let now = 1000;
    const presence = new InMemoryReaderPresence(100, () => now);
    expect(await presence.graceLeftMs('g')).toBe(0); // nobody ever came
    presence.enter('g');
    presence.enter('g');
    expect(await presence.graceLeftMs('g')).toBe(100);
    presence.leave('g');
    now = 5000;
    expect(await presence.graceLeftMs('g')).toBe(100); // one reader still there
    presence.leave('g');
    now = 5030;
    expect(await presence.graceLeftMs('g')).toBe(70);
    now = 5100;
    expect(await presence.graceLeftMs('g')).toBe(0);
    presence.enter('g');
    expect(presence.localReaders('g')).toBe(1);
    presence.forget('g');
    presence.leave('g'); // a reader of a forgotten generation leaving: nothing to do
    expect(presence.localReaders('g')).toBe(0);
    await presence.close();
  });
});
