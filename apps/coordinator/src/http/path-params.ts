import { Injectable, type PipeTransform } from '@nestjs/common';
import { Limits, unstorableString, ValidationError } from '#contracts';

/**
 * A path parameter checked against the same rule as in a body, so an id that could never have been
 * created (NUL, `..`, too long, other characters) is a 422 naming the parameter, not a database error.
 */
@Injectable()
class PathParamPipe implements PipeTransform<string, string> {
  constructor(
    private readonly field: string,
    private readonly pattern: RegExp,
    private readonly rule: string,
  ) {}

  transform(value: string): string {
    if (this.pattern.test(value)) return value;
    const rule = unstorableString(value) ?? this.rule;
    throw new ValidationError(`path parameter ${this.field} is invalid: ${rule}`, [{ field: this.field, rule }]);
  }
}

/** `{id}` of /v1/transactions/{id}/…: Limits.idPattern. */
export const TransactionIdParam = new PathParamPipe(
  'id',
  Limits.idPattern,
  `must be 1-${Limits.maxIdLength} characters of [A-Za-z0-9._:-], not "." or ".."`,
);

/** `{name}` of /v1/participants/{name}/…: Limits.participantNamePattern. */
export const ParticipantNameParam = new PathParamPipe(
  'name',
  Limits.participantNamePattern,
  'must be 1-63 characters of [a-z0-9_-], starting with a letter or digit',
);

/** `{instanceId}` of /v1/participants/{name}/instances/{instanceId}: an id, or the URL an instance registered without one is named by. */
export const InstanceIdParam = new PathParamPipe(
  'instanceId',
  Limits.instanceRefPattern,
  `must be 1-${Limits.maxParticipantUrlLength} characters without control characters`,
);
