import { StoreUnavailableError, ValidationError } from '#contracts';
import { settleKey } from './key-bookkeeping';

const FAST = { windowMs: 1_000, pauses: [1] };

describe('settleKey', () => {
  it('tries a key write again while the log is unavailable', async () => {
    let tries = 0;
    const written = await settleKey(async () => {
      if (++tries < 3) throw new StoreUnavailableError('connection terminated');
      return 'stored';
    }, FAST);
    expect([written, tries]).toEqual(['stored', 3]);
  });

  it('takes a dropped connection for the log being away', async () => {
    let tries = 0;
    const written = await settleKey(async () => {
      if (++tries < 2) throw new Error('Connection terminated unexpectedly');
      return 'stored';
    }, FAST);
    expect([written, tries]).toEqual(['stored', 2]);
  });

  it('gives up when its window is over, and at once on an error that is not the log being away', async () => {
    let tries = 0;
    await expect(
      settleKey(
        async () => {
          tries++;
          throw new StoreUnavailableError('down');
        },
        { windowMs: 1_000, pauses: [600] },
      ),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(tries).toBe(2); // at about 0 and 600 ms; a third would start past the window
    tries = 0;
    // a try that itself lasts past the window (a log that does not answer) is the last
    await expect(
      settleKey(
        async () => {
          tries++;
          await new Promise((r) => setTimeout(r, 300));
          throw new StoreUnavailableError('Query read timeout');
        },
        { windowMs: 250, pauses: [1] },
      ),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(tries).toBe(1);
    tries = 0;
    await expect(
      settleKey(async () => {
        tries++;
        throw new ValidationError('bad', []);
      }, FAST),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(tries).toBe(1);
  });
});
