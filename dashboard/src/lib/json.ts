// Checks the JSON a person types before it is sent.

import type { JSONValue } from '../service/types';

export type JSONCheck =
  | { ok: true; value: JSONValue; empty: boolean }
  | { ok: false; message: string; line: number | null; column: number | null };

/**
 * Parses text as JSON. Empty text is valid and means no value (empty: true).
 * A syntax error gives a message with the line and column when the browser
 * tells the position.
 */
export function checkJSON(text: string): JSONCheck {
  if (text.trim() === '') return { ok: true, value: null, empty: true };
  try {
    return { ok: true, value: JSON.parse(text) as JSONValue, empty: false };
  } catch (err) {
    const raw = (err as Error).message;
    let line: number | null = null;
    let column: number | null = null;
    const lc = /line (\d+) column (\d+)/.exec(raw);
    const pos = /position (\d+)/.exec(raw);
    if (lc) {
      line = Number(lc[1]);
      column = Number(lc[2]);
    } else if (pos) {
      const at = Math.min(Number(pos[1]), text.length);
      const before = text.slice(0, at).split('\n');
      line = before.length;
      column = before[before.length - 1].length + 1;
    } else if (/end of (JSON|data) input|Unexpected end/i.test(raw)) {
      const lines = text.split('\n');
      line = lines.length;
      column = lines[lines.length - 1].length + 1;
    }
    // Keep the browser's explanation, without its own position suffix.
    const reason = raw
      .replace(/^JSON\.parse: /, '')
      .replace(/ in JSON at position \d+( \(line \d+ column \d+\))?/, '')
      .replace(/ at line \d+ column \d+ of the JSON data/, '');
    const where = line !== null ? `line ${line}, column ${column}: ` : '';
    return { ok: false, message: `${where}${reason}`, line, column };
  }
}

/** Pretty JSON for display. */
export function prettyJSON(v: unknown): string {
  if (v === undefined) return '';
  return JSON.stringify(v, null, 2);
}
