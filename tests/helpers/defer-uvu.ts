// Imported first by tests/run.ts: uvu reads this flag when it loads and, with it set, leaves
// running the suites to the caller instead of starting them on a timer.
(globalThis as { UVU_DEFER?: number }).UVU_DEFER = 1;
