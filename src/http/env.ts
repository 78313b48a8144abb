import type { IdempotencyWrite } from '../ledger/appender.js';
import type { Principal } from '../ledger/tenancy.js';

export type AppEnv = {
  Variables: {
    requestId: string;
    principal: Principal;
    idempotency: IdempotencyWrite | undefined;
  };
};
