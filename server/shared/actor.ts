/** The operator or API key behind a request, recorded on every audit event. */
export interface Actor {
  /** Operator or API key id; "anonymous" until authentication exists. */
  id: string;
  requestId: string | null;
}

export const ANONYMOUS = 'anonymous';
