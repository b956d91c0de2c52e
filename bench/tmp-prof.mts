import { startTestSystem } from '../test/support/system.js';
import { createTestDatabase } from '../test/support/postgres.js';
import { sealBox } from '../services/runtime/sealed-box.js';
import { throughput } from './measure.js';
const db = process.env.PG ? await createTestDatabase() : undefined;
const sys = await startTestSystem({ databaseUrl: db?.url });
const admin = await sys.token('admin');
const secrets = sys.secrets(admin);
const key = await sys.kms(admin).getOrgPublicKey({ org: 'acme' });
for (let r = 0; r < 3; r++) {
  const rate = await throughput(2000, 64, async (i) => secrets.createSecret({ org: 'acme', secret: { name: `p${r}-${i}`, key: 'B' }, value: { sealedBox: Buffer.from(await sealBox(Buffer.from(`value-${i}-0123456789abcdef`), key.publicKey)), keyId: key.keyId } }));
  console.log('create/s', rate.toFixed(0));
}
await sys.stop(); await db?.drop();
