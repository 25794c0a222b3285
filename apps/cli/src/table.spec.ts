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
