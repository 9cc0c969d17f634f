// A logger for bundleWorkflowCode that keeps only warnings and errors (the bundler's progress lines are noise).
export const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};
