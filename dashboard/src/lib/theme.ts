// Light and dark: the system's preference by default, or the one chosen
// with the toggle (kept in localStorage).

import { useEffect, useState } from 'react';

export type ThemeMode = 'system' | 'light' | 'dark';

const KEY = 'archivist.theme';

function stored(): ThemeMode {
  try {
    const v = localStorage.getItem(KEY);
    if (v === 'light' || v === 'dark') return v;
  } catch {
    // storage unavailable: follow the system
  }
  return 'system';
}

function apply(mode: ThemeMode): void {
  const root = document.documentElement;
  if (mode === 'system') delete root.dataset.theme;
  else root.dataset.theme = mode;
}

/** Applies the stored choice before the first render, to avoid a flash. */
export function initTheme(): void {
  apply(stored());
}

/** The resolved theme now. */
export function effectiveTheme(mode: ThemeMode): 'light' | 'dark' {
  if (mode !== 'system') return mode;
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function useTheme(): [ThemeMode, (m: ThemeMode) => void] {
  const [mode, setMode] = useState<ThemeMode>(stored);
  useEffect(() => {
    apply(mode);
    try {
      if (mode === 'system') localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, mode);
    } catch {
      // not kept: fine
    }
  }, [mode]);
  return [mode, setMode];
}
