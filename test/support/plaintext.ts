import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import knexFactory from 'knex';

/* How tests look for plaintext at rest: every form a leaked value could take, in every byte stored. */

/** Every file below dir, recursively. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

/** The forms a leaked value could take: raw bytes, base64, base64url and hex. */
export function needles(value: string): Buffer[] {
  const raw = Buffer.from(value, 'utf8');
  return [raw, Buffer.from(raw.toString('base64')), Buffer.from(raw.toString('base64url')), Buffer.from(raw.toString('hex'))];
}

export function hits(haystacks: { where: string; bytes: Buffer }[], values: string[]): string[] {
  const found: string[] = [];
  for (const value of values) {
    for (const needle of needles(value)) {
      for (const h of haystacks) if (h.bytes.includes(needle)) found.push(`${JSON.stringify(value)} in ${h.where}`);
    }
  }
  return found;
}

/** Every row of every table in the test database, as bytes to scan. */
export async function postgresRows(url: string): Promise<{ where: string; bytes: Buffer }[]> {
  const knex = knexFactory({ client: 'pg', connection: url });
  try {
    const tables: { tablename: string }[] = (await knex.raw("select tablename from pg_tables where schemaname = 'public'")).rows;
    const out: { where: string; bytes: Buffer }[] = [];
    for (const { tablename } of tables) {
      for (const row of await knex(tablename).select('*')) {
        const parts = Object.values(row).map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(String(v))));
        out.push({ where: `postgres table ${tablename}`, bytes: Buffer.concat(parts) });
      }
    }
    expect(tables.map((t) => t.tablename)).to.include.members(['secrets', 'kms_org_keys', 'secret_audit_events']);
    return out;
  } finally {
    await knex.destroy();
  }
}
