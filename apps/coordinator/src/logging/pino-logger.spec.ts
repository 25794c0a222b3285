import { lineAbout } from './log-context';
import { PinoNestLogger, createRootLogger, type LogLevelName } from './pino-logger';

/** A logger at `level` whose JSON lines land in `lines`, parsed. */
function capture(level: LogLevelName) {
  const lines: Record<string, unknown>[] = [];
  const root = createRootLogger(level, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { lines, logger: new PinoNestLogger(root) };
}

describe('PinoNestLogger', () => {
  it('writes one JSON line per call with level, time, pid, context and message', () => {
    const { lines, logger } = capture('log');
    logger.log('listening', 'Bootstrap');
    expect(lines).toEqual([
      { level: 'info', time: expect.any(Number), pid: process.pid, context: 'Bootstrap', msg: 'listening' },
    ]);
  });

  it('writes a line about a transaction with txId, and branch for a call, as fields', () => {
    const { lines, logger } = capture('log');
    logger.warn(lineAbout({ txId: 'tx-1' }, 'step'));
    logger.error(lineAbout({ txId: 'tx-1', branch: 'debit' }, 'call failed'), undefined, 'Engine');
    logger.log('unrelated');
    expect(lines.map((l) => [l.msg, l.txId, l.branch, l.context])).toEqual([
      ['step', 'tx-1', undefined, undefined],
      ['call failed', 'tx-1', 'debit', 'Engine'],
      ['unrelated', undefined, undefined, undefined],
    ]);
  });

  it('takes the id from a "transaction <id>:" message logged outside the transaction`s work', () => {
    const { lines, logger } = capture('log');
    logger.warn('transaction 0193-ab_c: resuming failed: boom', 'Sweeper');
    expect(lines[0]).toMatchObject({ txId: '0193-ab_c', context: 'Sweeper', level: 'warn' });
  });

  it('follows LOG_LEVEL: warn drops log and debug lines, verbose keeps trace lines', () => {
    const quiet = capture('warn');
    quiet.logger.log('hidden');
    quiet.logger.debug('hidden');
    quiet.logger.warn('shown');
    expect(quiet.lines.map((l) => l.msg)).toEqual(['shown']);
    const loud = capture('verbose');
    loud.logger.verbose('detail');
    expect(loud.lines).toEqual([expect.objectContaining({ level: 'trace', msg: 'detail' })]);
  });

  it('keeps the stack Nest passes to error() and the fields of an object message', () => {
    const { lines, logger } = capture('log');
    logger.error('crashed', 'Error: x\n    at y', 'HTTP');
    logger.log({ msg: 'batch', size: 3 }, 'LogWriter');
    expect(lines[0]).toMatchObject({ msg: 'crashed', stack: 'Error: x\n    at y', context: 'HTTP' });
    expect(lines[1]).toMatchObject({ msg: 'batch', size: 3, context: 'LogWriter' });
  });
});
