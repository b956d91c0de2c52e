import { keyRisk } from '../services/secret-store/rules.js';
import { CommandError } from './errors.js';

/**
 * Refuses a secret KEY that the server refuses for the risk it carries (rules.ts keyRisk), before
 * anything is read, sealed or sent; the server checks the same rule.
 */
export function checkSecretKeyRisk(key: string): void {
  const risk = keyRisk(key);
  if (risk !== undefined) throw new CommandError(`KEY ${risk}`);
}
