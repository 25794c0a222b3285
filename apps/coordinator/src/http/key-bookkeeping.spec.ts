import { StoreUnavailableError, ValidationError } from '#contracts';
import { settleKey } from './key-bookkeeping';

describe('settleKey', () => {
  it('tries a key write again while the log is unavailable', async () => {
    let tries = 0;
    const written = await settleKey(async () => {
      if (++tries < 3) throw new StoreUnavailableError('connection terminated');
      return 'stored';
    }, [1, 1, 1]);
    expect([written, tries]).toEqual(['stored', 3]);
  });

  it('takes a dropped connection for the log being away', async () => {
    let tries = 0;
    const written = await settleKey(async () => {
      if (++tries < 2) throw new Error('Connection terminated unexpectedly');
      return 'stored';
    }, [1]);
    expect([written, tries]).toEqual(['stored', 2]);
  });

  it('gives up after the last pause, and at once on an error that is not the log being away', async () => {
    let tries = 0;
    await expect(
      settleKey(async () => {
        tries++;
        throw new StoreUnavailableError('down');
      }, [1, 1]),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(tries).toBe(3);
    tries = 0;
    await expect(
      settleKey(async () => {
        tries++;
        throw new ValidationError('bad', []);
      }, [1, 1]),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(tries).toBe(1);
  });
});
