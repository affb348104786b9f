/**
 * What a CIBA notifier is given (CIBA Core §7.1: the user must be reached out of band, and shown the
 * binding message). Types only, so the server context can name the notifier without importing the flow.
 */
/** What the notifier is told, for the user's side to show and link to (CIBA Core §7.1 binding_message). */
export interface BackchannelNotification {
  /** The user's subject (`sub`) and username. */
  subject: string;
  username: string;
  clientId: string;
  clientName: string;
  bindingMessage: string | null;
  scope: string[];
  acrValues: string[];
  /** The one-time approval page link: it works until the user decides or the request expires. */
  approvalUrl: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

/**
 * Tells the user's side that a request waits (a push to their phone, an email, a message). Throwing means
 * the user could not be reached: the client gets 503 temporarily_unavailable.
 */
export type BackchannelNotifier = (notification: BackchannelNotification) => Promise<void>;
