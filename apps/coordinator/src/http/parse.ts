import type { z } from 'zod';
import { UnsupportedMediaTypeError, ValidationError } from '#contracts';

/** Parses `value` with `schema`, or throws a ValidationError naming each field and rule. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  // a body that is not JSON would arrive as a buffer; a string is JSON (the request guard refuses
  // any other Content-Type), so the schema names it as a value of the wrong type
  if (Buffer.isBuffer(value)) throw new UnsupportedMediaTypeError();
  // no body reads as `{}`; JSON `null` is a body, and not an object
  const result = schema.safeParse(value === undefined ? {} : value);
  if (result.success) return result.data;
  const errors = result.error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({ field: [...issue.path, k].join('.'), rule: 'is not a known field' }));
    }
    return [{ field: issue.path.join('.') || '(body)', rule: issue.message }];
  });
  throw new ValidationError(`${what} is invalid: ${errors.map((e) => `${e.field} ${e.rule}`).join('; ')}`, errors);
}
