import { BaseCommand } from '../../base-command.js';
import { formatFields, formatTime } from '../../output.js';
import type { OrgPublicKeyJson } from '../../secrets-api.js';

export default class OrgPublicKey extends BaseCommand<typeof OrgPublicKey> {
  static override summary = 'Show the org public key that secret values are sealed with.';
  static override description =
    'Any client can seal a value for the org with crypto_box_seal and this X25519 key; only the server\'s key-management can open it. Send the keyId along with the sealed box.';

  static override examples = ['<%= config.bin %> org public-key', '<%= config.bin %> org public-key --org acme -o json'];

  async run(): Promise<OrgPublicKeyJson> {
    const api = await this.openApi();
    const key = await api.getOrgPublicKey();
    return this.print(key, (k) =>
      formatFields([
        ['org', k.org],
        ['keyId', k.keyId],
        ['publicKey', k.publicKey],
        ['algorithm', k.algorithm],
        ['created', formatTime(k.createTime)],
      ]),
      (k) => k.keyId,
    );
  }
}
