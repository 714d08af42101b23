/**
 * `pass` run one at a time, for work that re-reads state ("is there new data?"): a call while a
 * pass runs asks for one more pass after it, however many calls come meanwhile, so nothing that
 * happened during a read is missed and nothing is read twice over. `pass` resolves whether more
 * passes may follow (false once the work is over: answered, closed, failed).
 */
export function coalesced(pass: () => Promise<boolean>): () => Promise<void> {
  let running = false;
  let again = false;
  return async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        if (!(await pass())) return;
      } while (again);
    } finally {
      running = false;
    }
  };
}
