import { randomBytes } from 'node:crypto';

/** `<prefix>_<22 chars base64url>`: 128 random bits, unguessable so ids never leak tenancy by enumeration. */
export const newId = (prefix: string): string => `${prefix}_${randomBytes(16).toString('base64url')}`;
