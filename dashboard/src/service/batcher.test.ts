import { describe, expect, it, vi } from 'vitest';

import { FrameBatcher } from './DistributedProcessingService';

describe('FrameBatcher.flushNow', () => {
  it('hands over what is pending at once, and the scheduled batch does not hand it over again', () => {
    vi.useFakeTimers();
    try {
      const batches: number[][] = [];
      const b = new FrameBatcher<number>((items) => batches.push(items), 200);
      b.push(1);
      b.push(2);
      b.flushNow();
      expect(batches).toEqual([[1, 2]]);
      b.push(3);
      vi.advanceTimersByTime(1000);
      expect(batches).toEqual([[1, 2], [3]]);
      b.flushNow(); // nothing pending: no empty batch
      expect(batches).toEqual([[1, 2], [3]]);
    } finally {
      vi.useRealTimers();
    }
  });
});
