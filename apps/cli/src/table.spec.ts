import { cellText, formatFields, formatTable } from './table';

describe('table printer', () => {
  it('pads columns to the widest cell, leaves the last one unpadded and uncut, and prints - for nothing', () => {
    const long = 'x'.repeat(80);
    expect(
      formatTable(
        ['ID', 'STATUS', 'ERROR'],
        [
          ['a', 'committed', null],
          ['bb', long, long],
        ],
      ).split('\n'),
    ).toEqual([
      `ID  STATUS${' '.repeat(54)}  ERROR`,
      `a   committed${' '.repeat(51)}  -`,
      `bb  ${'x'.repeat(59)}…  ${long}`,
    ]);
  });

  it('shows control characters as escapes: text from the log cannot move the cursor or retitle the terminal', () => {
    const reason = '\u001b]0;pwned\u0007\u001b[2J\u001b[31mRED\u001b[0m \u009b1m';
    const shown = cellText(reason, Infinity);
    expect(shown).toBe('\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mRED\\x1b[0m \\x9b1m');
    expect(shown).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(formatFields([['error', reason]])).toBe(`error: ${shown}`);
    expect(formatTable(['ID', 'ERROR'], [['t\u001b[1m', reason]])).toContain('t\\x1b[1m');
  });

  it('prints (none) for no rows, and one line per cell', () => {
    expect(formatTable(['ID'], [])).toBe('(none)');
    expect(cellText('two\nlines')).toBe('two lines');
    expect(
      formatFields([
        ['id', 't-1'],
        ['first error', null],
      ]),
    ).toBe('id:          t-1\nfirst error: -');
  });
});
