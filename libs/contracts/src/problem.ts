/** RFC 9457 problem details, the body of every error answer (`application/problem+json`). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Field-level errors: `field` is a dotted path into the request (`branches.0.dependsOn.1`). */
  errors?: { field: string; rule: string }[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
