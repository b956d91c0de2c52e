import { BaseCommand } from '../../base-command.js';
import { OrgKeyCache } from '../../sealing.js';
import type { OrgKeyJson } from '../../secrets-api.js';

export default class OrgRotateKey extends BaseCommand<typeof OrgRotateKey> {
  static override summary = 'Make a new org keypair the primary one: new values are sealed under it (org admins).';
  static override description = `The old primary becomes a previous key: values sealed under it (by clients that still have it cached) are accepted until you retire it with \`vesslctl org retire-key KEY_ID\`; after that such clients refetch the public key and reseal by themselves. Stored secrets are not touched: they are encrypted under their own data keys. This vesslctl switches to the new key at once.`;

  static override examples = ['<%= config.bin %> org rotate-key', '<%= config.bin %> org rotate-key --org acme -o json'];

  async run(): Promise<OrgKeyJson> {
    const api = await this.openApi();
    const key = await api.rotateOrgKey();
    try {
      // Seal our next values under the new key, not the one just replaced.
      await new OrgKeyCache(api).refresh();
    } catch (err) {
      this.notice(`warning: the key was rotated, but the local key cache was not refreshed: ${await this.describeError(err)}`);
    }
    return this.print(
      key,
      (k) =>
        `Rotated the key of org ${k.org}: ${k.keyId} is the primary key now. The previous key still opens values sealed under it; ` +
        'retire it with `vesslctl org retire-key KEY_ID` (`vesslctl org keys` lists them).',
      (k) => k.keyId,
    );
  }
}
