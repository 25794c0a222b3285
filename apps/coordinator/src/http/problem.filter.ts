import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  BranchRejectedError,
  CoordinatorError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  Limits,
  MalformedJsonError,
  UnsupportedMediaTypeError,
  ParticipantNotFoundError,
  PayloadTooLargeError,
  PROBLEM_CONTENT_TYPE,
  StoreUnavailableError,
  TransactionBusyError,
  TransactionConflictError,
  TransactionNotFoundError,
  ValidationError,
  UnauthenticatedError,
  ForbiddenError,
  KeyConflictError,
  KeyNotFoundError,
  ParticipantConflictError,
  type Problem,
} from '#contracts';
import { isTransientStoreError } from '#store';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The HTTP status of each error class: the one place where errors meet HTTP. */
export function statusOf(error: CoordinatorError): number {
  if (error instanceof MalformedJsonError) return 400;
  if (error instanceof PayloadTooLargeError) return 413;
  if (error instanceof UnsupportedMediaTypeError) return 415;
  if (error instanceof ValidationError || error instanceof IdempotencyKeyReusedError) return 422;
  if (
    error instanceof TransactionNotFoundError ||
    error instanceof ParticipantNotFoundError ||
    error instanceof KeyNotFoundError
  )
    return 404;
  if (error instanceof TransactionConflictError || error instanceof IdempotencyKeyInFlightError) return 409;
  if (error instanceof KeyConflictError || error instanceof ParticipantConflictError) return 409;
  if (error instanceof BranchRejectedError || error instanceof TransactionBusyError) return 409;
  if (error instanceof StoreUnavailableError) return 503;
  if (error instanceof UnauthenticatedError) return 401;
  if (error instanceof ForbiddenError) return 403;
  return 400;
}

/** Renders any error as RFC 9457 problem+json. */
export function toProblem(error: unknown): Problem {
  if (error instanceof CoordinatorError) {
    const status = statusOf(error);
    return {
      type: `/problems/${error.code}`,
      title: TITLES[status] ?? 'Error',
      status,
      detail: error.message,
      ...(error instanceof ValidationError ? { errors: error.errors } : {}),
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    // fastify's body-parsing failures reach here wrapped by Nest
    if (status === 400 && /JSON/i.test(error.message)) return toProblem(new MalformedJsonError(error.message));
    if (status === 413) return toProblem(new PayloadTooLargeError(Limits.maxBodyBytes));
    // a media type fastify could not read (an empty Content-Type header): the same problem as any other
    if (status === 415) return toProblem(new UnsupportedMediaTypeError());
    return { type: `/problems/http-${status}`, title: TITLES[status] ?? error.name, status, detail: error.message };
  }
  // fastify's own errors (body parsing, size, media type) carry a statusCode and a code
  const e = error as { statusCode?: number; code?: string; message?: string };
  if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return toProblem(new PayloadTooLargeError(Limits.maxBodyBytes));
    if (e.statusCode === 415) return toProblem(new UnsupportedMediaTypeError());
    if (
      e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
      e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
      /JSON/.test(e.message ?? '')
    ) {
      return toProblem(new MalformedJsonError(e.message ?? 'unparseable'));
    }
    return {
      type: `/problems/${(e.code ?? `http-${e.statusCode}`).toLowerCase()}`,
      title: TITLES[e.statusCode] ?? 'Bad Request',
      status: e.statusCode,
      detail: e.message ?? '',
    };
  }
  // the log database dropped the connection or is restarting: nothing was answered, retry later
  if (isTransientStoreError(error)) return toProblem(new StoreUnavailableError(String((error as Error).message)));
  return { type: '/problems/internal', title: TITLES[500], status: 500, detail: 'internal error' };
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(error: unknown, host: ArgumentsHost): void {
    const problem = toProblem(error);
    const http = host.switchToHttp();
    if (problem.status >= 500) {
      // the request's method and URL name what it was about (a transaction's id is in its path)
      const { method, url } = http.getRequest<{ method?: string; url?: string }>() ?? {};
      const about = method && url ? `${method} ${url}: ` : '';
      this.logger.error(`${about}${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    const reply = http.getResponse<FastifyReply>();
    if (error instanceof IdempotencyKeyInFlightError) void reply.header('retry-after', '1');
    if (error instanceof UnauthenticatedError) void reply.header('www-authenticate', 'Bearer realm="txc"');
    void reply.status(problem.status).header('content-type', PROBLEM_CONTENT_TYPE).send(problem);
  }
}
