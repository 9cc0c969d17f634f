// The Application Auto Scaling range emergencyScale holds while a new count is in place.
import { describe, expect, it } from 'vitest';
import { autoScalingHold } from '../../api/runbooks/emergency-scale';

describe('autoScalingHold', () => {
  it('a scale-up raises the minimum to the new count, and the maximum when it is below it', () => {
    expect(autoScalingHold({ min: 2, max: 10 }, 2, 6)).toEqual({ min: 6, max: 10 });
    expect(autoScalingHold({ min: 1, max: 4 }, 2, 8)).toEqual({ min: 8, max: 8 });
  });

  it('a scale-down lowers the maximum to the new count, and the minimum when it is above it', () => {
    expect(autoScalingHold({ min: 2, max: 10 }, 6, 4)).toEqual({ min: 2, max: 4 });
    expect(autoScalingHold({ min: 3, max: 10 }, 6, 1)).toEqual({ min: 1, max: 1 });
  });

  it('a range that already holds the count is returned unchanged', () => {
    expect(autoScalingHold({ min: 6, max: 10 }, 2, 6)).toEqual({ min: 6, max: 10 });
    expect(autoScalingHold({ min: 0, max: 4 }, 6, 4)).toEqual({ min: 0, max: 4 });
  });
});
