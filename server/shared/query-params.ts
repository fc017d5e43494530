import { z } from 'zod';

/** Gives a preprocessed schema the input type a typed client sends. */
const declared = <Output, Input = Output>(schema: z.ZodType) =>
  schema as unknown as z.ZodType<Output, Input>;

/*
 * The declared types are what a typed client sends; the REST string forms are converted
 * before validation and do not show in them.
 *
 * Schemas for GET inputs that behave the same over tRPC and REST. REST delivers every query
 * value as a string. trpc-to-openapi 3.3 switches on `coerce` in place on every bare
 * z.number(), z.boolean(), z.bigint() or z.date() in the input object of a procedure it
 * serves, POST bodies included, and that would change what tRPC accepts after the first REST
 * call. These helpers wrap each conversion in z.preprocess, a pipe that the library leaves
 * alone, so the accepted values never depend on the transport. Inputs use no bare ones, and a
 * test checks that.
 */

export function queryInt(options: { min: number; max: number }): z.ZodType<number, number> {
  return declared<number, number>(
    z.preprocess(
      (value) => (typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value),
      z.number().int().min(options.min).max(options.max),
    ),
  );
}

export function queryBoolean(): z.ZodType<boolean, boolean> {
  return declared<boolean, boolean>(
    z.preprocess(
      (value) => {
        if (value === 'true') return true;
        if (value === 'false') return false;
        return value;
      },
      z.boolean({ error: 'must be true or false' }),
    ),
  );
}

const EARLIEST = new Date('1900-01-01T00:00:00Z');
const LATEST = new Date('9999-12-31T23:59:59.999Z');

/** A date inside 1900-9999, a range every PostgreSQL timestamptz column can compare with. */
export const storableDate = z
  .date({ error: 'must be an ISO 8601 date-time such as 2026-01-31T00:00:00Z' })
  .min(EARLIEST, 'must not be before 1900-01-01')
  .max(LATEST, 'must not be after 9999-12-31');

/** Accepts a Date (tRPC with superjson) or an ISO 8601 date-time string with an offset. */
export function queryDateTime(): z.ZodType<Date, Date> {
  return declared<Date, Date>(
    z
      .preprocess((value) => {
        if (typeof value !== 'string') return value;
        if (!z.iso.datetime({ offset: true }).safeParse(value).success) return value;
        return new Date(value);
      }, storableDate)
      .meta({ override: { type: 'string', format: 'date-time' } }),
  );
}

/** Accepts one value or repeated query keys (`?status=a&status=b`) as an array. */
export function queryArray<T extends z.ZodType>(
  item: T,
  maxItems = 20,
): z.ZodType<z.output<T>[], z.input<T>[]> {
  return declared<z.output<T>[], z.input<T>[]>(
    z.preprocess(
      (value) => (value === undefined || Array.isArray(value) ? value : [value]),
      z.array(item).min(1).max(maxItems),
    ),
  );
}

/**
 * A whole number in a JSON body. The value must be a JSON number on both transports: the
 * pass-through preprocess keeps trpc-to-openapi from switching on coercion, which would turn
 * "3", "0x3" or true into numbers over REST.
 */
export function bodyInt(options: { min: number; max: number }): z.ZodType<number, number> {
  return declared<number, number>(
    z.preprocess(
      (value) => value,
      z
        .number({ error: 'must be a number' })
        .int('must be a whole number')
        .min(options.min, `must be at least ${options.min}`)
        .max(options.max, `must be at most ${options.max}`),
    ),
  );
}

/** A boolean in a JSON body: only true or false, never "false" read as true. */
export function bodyBoolean(): z.ZodType<boolean, boolean> {
  return declared<boolean, boolean>(
    z.preprocess((value) => value, z.boolean({ error: 'must be true or false' })),
  );
}
