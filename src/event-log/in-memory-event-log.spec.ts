import { describeEventLogContract } from './event-log.contract';
import { InMemoryEventLog } from './in-memory-event-log';

describeEventLogContract(InMemoryEventLog.name, (retention) => {
  const log = new InMemoryEventLog(retention);
  return Promise.resolve({ log, cleanup: () => log.close() });
});
