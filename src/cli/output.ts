/** What the CLI prints: aligned tables and key/value blocks for people, one JSON document for scripts. */

import type { StartedOperation } from './apiClient';
import type { Context } from './context';

export type Cell = string | number | boolean | null | undefined;

/** Where the CLI writes; replaced in tests. */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

const shown = (cell: Cell): string => {
  if (cell === null || cell === undefined || cell === '') return '-';
  return String(cell).replace(/[\r\n\t]+/g, ' ');
};

/** An aligned table: a header row, then one row per item; the last column is not padded. */
export function table(headers: string[], rows: Cell[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(shown))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `key  value` lines, keys aligned. */
export function fields(entries: [string, Cell][]): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return entries.map(([key, value]) => `${key.padEnd(width)}  ${shown(value)}`).join('\n');
}

export const list = (values: readonly string[] | undefined): string =>
  values && values.length ? values.join(', ') : '-';

/** An answer as one JSON document (--json). */
export function print(c: Context, document: unknown): void {
  c.out.out(JSON.stringify(document, null, 2));
}

/** The operations a directory change started, as a table. */
export function printOperations(c: Context, operations: StartedOperation[]): void {
  if (!operations.length) {
    c.out.out('operations: none (nothing in any app has to change)');
    return;
  }
  c.out.out(
    `operations (${operations.length}):\n` +
      table(
        ['WORKFLOW ID', 'INTENT', 'STATUS'],
        operations.map((o) => [o.workflowId, o.intent, o.status]),
      ),
  );
}

/** A directory change's answer: the raw JSON, or a line about the record and the operations it started. */
export function printChange(c: Context, answer: { operations?: StartedOperation[] }, summary: string): void {
  if (c.json) return print(c, answer);
  c.out.out(summary);
  printOperations(c, answer.operations ?? []);
}
