import { describe, expect, it } from 'vitest';

import { hintFor, type HintPart, type HintSession } from './hint';

const open: HintSession = { authRequired: false, authenticated: true, role: 'ADMIN', insecure: false, warnings: [] };
const guarded: HintSession = { authRequired: true, authenticated: false, role: null, insecure: false, warnings: [] };

const text = (parts: HintPart[]) =>
  parts.map((p) => (typeof p === 'string' ? p : 'href' in p ? p.text : p.code)).join('');

describe('hintFor', () => {
  it('says when the node could not be asked', () => {
    const h = hintFor(null, false);
    expect(h.state).toBe('unknown');
    expect(text(h.parts)).toContain('Bearer KEY');
  });

  it('a node without keys on loopback is open', () => {
    expect(hintFor(open, false).state).toBe('open');
  });

  it('an insecure node shows its warning', () => {
    const h = hintFor({ ...open, insecure: true, warnings: ['INSECURE: listening on 0.0.0.0 without keys.'] }, false);
    expect(h.state).toBe('insecure');
    expect(text(h.parts)).toBe('\u26a0 INSECURE: listening on 0.0.0.0 without keys.');
    expect(text(hintFor({ ...open, insecure: true, warnings: null }, false).parts)).toContain('needs no API key');
  });

  it("signed in with the dashboard's key: the role", () => {
    const h = hintFor({ ...guarded, authenticated: true, role: 'OPERATOR' }, true);
    expect(h.state).toBe('signed-in');
    expect(h.role).toBe('OPERATOR');
    expect(text(h.parts)).toContain('Signed in as operator');
  });

  it("a key that is no longer taken is told apart from no key", () => {
    expect(hintFor(guarded, true).state).toBe('rejected');
    const h = hintFor(guarded, false);
    expect(h.state).toBe('signed-out');
    expect(text(h.parts)).toContain('Sign in on the dashboard');
    expect(text(h.parts)).toContain('Bearer KEY');
  });
});
