/** Outcome of a normalisation rule: the normalised value, or a message saying why the input is invalid. */
export type Normalized<T> = { ok: true; value: T } | { ok: false; message: string };

export const valid = <T>(value: T): Normalized<T> => ({ ok: true, value });
export const invalid = (message: string): Normalized<never> => ({ ok: false, message });
