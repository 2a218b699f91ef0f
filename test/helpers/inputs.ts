/** Sets INPUT_* variables as the runner does (name upper-cased, spaces to underscores) for one call. */
export function inputEnv(inputs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v]));
}

export function withInputs<T>(inputs: Record<string, string>, fn: () => T): T {
  const env = inputEnv(inputs);
  const saved = Object.keys(process.env).filter((k) => k.startsWith('INPUT_'));
  const backup = Object.fromEntries(saved.map((k) => [k, process.env[k]]));
  for (const k of saved) Reflect.deleteProperty(process.env, k);
  Object.assign(process.env, env);
  const restore = (): void => {
    for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_')) Reflect.deleteProperty(process.env, k);
    Object.assign(process.env, backup);
  };
  try {
    const result = fn();
    if (result instanceof Promise) return result.finally(restore) as T;
    restore();
    return result;
  } catch (error) {
    restore();
    throw error;
  }
}
